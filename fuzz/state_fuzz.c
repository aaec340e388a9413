/*
 *	bird-autopilot fuzz target -- the state file and its journal
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * One input is a state file and, after a line "%%journal", its journal.
 * Both are written to a directory of our own, and protocol ap starts with
 * "state filename" there: it reads the file, replays the journal, keeps what is
 * damaged as .corrupt, and folds the result into a new state file. Then it
 * leaves the configuration (writing the file once more) and comes back.
 * Checked: no crash, leak or sanitizer report on whatever the files hold;
 * no .tmp file left; what the second start restores is exactly what the
 * first restored (the file we write reads back the same), and the second
 * start finds nothing damaged.
 */

#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fuzz.h"

#include "lib/string.h"
#include "lib/resource.h"
#include "proto/autopilot/autopilot.h"

#define SEPARATOR	"%%journal\n"

static char dir[64], state[96], journal[128], corrupt[2][160];

static char conf_on[2048];

static void
write_file(const char *file, const uint8_t *data, size_t size)
{
  FILE *f = fopen(file, "w");
  FZ_CHECK(f, "cannot write %s: %m", file);
  FZ_CHECK(!size || (fwrite(data, 1, size, f) == size), "short write to %s", file);
  fclose(f);
}

static int
exists(const char *file)
{
  struct stat st;
  return stat(file, &st) == 0;
}

/* The restored set: each override as its state line, sorted */
static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(char * const *) a, *(char * const *) b);
}

static char **
snapshot(struct autopilot_proto *p, uint *count)
{
  struct autopilot_request req;
  char line[AUTOPILOT_LINE_MAX];
  /* In whole seconds, as the state file keeps expiry times (expires-at) */
  btime soon = (current_real_time() + 60 S_) TO_S;
  char **set = malloc((p->store.count + 1) * sizeof(char *));
  uint n = 0;

  HASH_WALK(p->store.hash, next_hash, o)
  {
    if (o->deleted)
      continue;

    /*
     * One that expires any moment now may be gone at the second start.
     * Compared in seconds: `expires 60` is now + 60 s to the microsecond,
     * restored as its second, so in microseconds the first start would
     * count it and the second not (found by this target).
     */
    if (o->expires && ((o->expires TO_S) < soon))
      continue;

    autopilot_ovr_to_request(o, &req);
    FZ_CHECK(autopilot_request_format(&req, line, sizeof(line)) > 0, "override %N not formatted", &o->net);
    FZ_CHECK(n < p->store.count, "more overrides than counted (%u)", p->store.count);
    set[n++] = strdup(line);
  }
  HASH_WALK_END;

  qsort(set, n, sizeof(char *), cmp_str);
  *count = n;
  return set;
}

static void
cleanup(void)
{
  const char *files[] = { state, journal, corrupt[0], corrupt[1] };
  for (uint i = 0; i < ARRAY_SIZE(files); i++)
    unlink(files[i]);
  rmdir(dir);
}

static struct autopilot_proto *
start(void)
{
  fz_configure(conf_on);
  struct autopilot_proto *p = (void *) fz_proto("ap");
  FZ_CHECK(p && (p->p.proto_state == PS_UP), "protocol ap not up");
  FZ_CHECK(p->state.loaded, "state not loaded");
  return p;
}

static void
stop(void)
{
  fz_configure(FZ_EGRESSES);
  FZ_CHECK(!fz_proto("ap"), "protocol ap still there");
  FZ_CHECK(!exists(tmp_sprintf("%s.tmp", state)), "temporary state file left");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!dir[0])
  {
    fz_init();
    /* Memory, not disk: every start and stop writes and fsyncs the file */
    bsnprintf(dir, sizeof(dir), "%s/ap-fuzz-state.%d", exists("/dev/shm") ? "/dev/shm" : "/tmp", (int) getpid());
    FZ_CHECK(mkdir(dir, 0700) == 0, "cannot make %s: %m", dir);
    atexit(cleanup);
    bsnprintf(state, sizeof(state), "%s/state", dir);
    bsnprintf(journal, sizeof(journal), "%s.journal", state);
    bsnprintf(corrupt[0], sizeof(corrupt[0]), "%s.corrupt", state);
    bsnprintf(corrupt[1], sizeof(corrupt[1]), "%s.corrupt", journal);
    bsnprintf(conf_on, sizeof(conf_on), FZ_EGRESSES FZ_AP("  state filename \"%s\";\n"), state);
    fz_configure(FZ_EGRESSES);
  }

  /* The state file, then the journal if there is one */
  const uint8_t *sep = NULL;
  for (size_t i = 0; !sep && (i + strlen(SEPARATOR) <= size); i++)
    if (!memcmp(data + i, SEPARATOR, strlen(SEPARATOR)) && (!i || (data[i - 1] == '\n')))
      sep = data + i;
  size_t slen = sep ? (size_t) (sep - data) : size;
  write_file(state, data, slen);
  unlink(journal);
  if (sep)
    write_file(journal, sep + strlen(SEPARATOR), size - slen - strlen(SEPARATOR));
  unlink(corrupt[0]);
  unlink(corrupt[1]);

  uint n1, n2;
  struct autopilot_proto *p = start();
  char **set1 = snapshot(p, &n1);
  stop();

  unlink(corrupt[0]);
  unlink(corrupt[1]);

  p = start();
  char **set2 = snapshot(p, &n2);
  FZ_CHECK(!exists(corrupt[0]) && !exists(corrupt[1]), "the state we wrote is damaged to the next start");
  stop();

  FZ_CHECK(n1 == n2, "%u overrides restored, %u after a stop and start", n1, n2);
  for (uint i = 0; i < n1; i++)
  {
    FZ_CHECK(!strcmp(set1[i], set2[i]), "restored '%s', then '%s'", set1[i], set2[i]);
    free(set1[i]);
    free(set2[i]);
  }
  free(set1);
  free(set2);

  lp_flush(tmp_linpool);
  return 0;
}
