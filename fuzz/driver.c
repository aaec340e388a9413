/*
 *	bird-autopilot fuzz targets -- replay inputs without libFuzzer
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * The regression run of "make check": a plain main() that feeds each file
 * named on the command line (or each file of a directory named there) to
 * the target's LLVMFuzzerTestOneInput(), built with the ordinary compiler
 * and linked with the ordinary BIRD objects. A crash or a failed check
 * aborts, so the exit status says whether every input passed.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned runs;			/* Inputs replayed */

static void
replay(const char *file)
{
  FILE *f = fopen(file, "rb");
  if (!f)
  {
    perror(file);
    exit(1);
  }

  /* Inputs are small (libFuzzer's -max_len); read whatever there is */
  size_t size = 0, room = 4096;
  uint8_t *buf = malloc(room);
  size_t got;
  while ((got = fread(buf + size, 1, room - size, f)) > 0)
    if ((size += got) == room)
      buf = realloc(buf, room *= 2);
  fclose(f);

  LLVMFuzzerTestOneInput(buf, size);
  free(buf);
  runs++;
}

static int
by_name(const void *a, const void *b)
{
  return strcmp(*(char * const *) a, *(char * const *) b);
}

static void
replay_path(const char *path)
{
  struct stat st;
  if (stat(path, &st) < 0)
  {
    perror(path);
    exit(1);
  }

  if (!S_ISDIR(st.st_mode))
  {
    replay(path);
    return;
  }

  /* In name order, so that a failure repeats the same way */
  DIR *d = opendir(path);
  struct dirent *de;
  char **names = NULL;
  size_t n = 0;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.')
    {
      names = realloc(names, (n + 1) * sizeof(char *));
      names[n] = malloc(strlen(path) + strlen(de->d_name) + 2);
      sprintf(names[n++], "%s/%s", path, de->d_name);
    }
  closedir(d);

  qsort(names, n, sizeof(char *), by_name);
  for (size_t i = 0; i < n; i++)
  {
    replay_path(names[i]);
    free(names[i]);
  }
  free(names);
}

int
main(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    replay_path(argv[i]);

  printf("%s: %u inputs replayed, no crash\n", argv[0], runs);
  return 0;
}
