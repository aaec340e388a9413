/*
 *	bird-autopilot fuzz target -- "autopilot load": a whole set from a file
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * One input is a file for "birdc autopilot load ap FILE": written to a file
 * of our own and loaded by autopilot_cmd_load() (the birdc command's code,
 * with a CLI session of its own), over a set of three overrides already
 * there. Checked: the load is all or nothing, against a reference reading
 * of the file by lines: afterwards the set is either what it was, or
 * exactly the add lines of the file (prefix, target and reason); and it is
 * what it was whenever the reference finds a line that is no add or no
 * line (too long, cut, NUL byte, does not parse).
 */

#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#include "lib/string.h"
#include "lib/resource.h"
#include "nest/cli.h"
#include "proto/autopilot/autopilot.h"

static struct autopilot_proto *P;
static char file[64];

static const char *before[] = {		/* The set the load replaces */
  "add 10.99.0.0/16 t1",
  "add 10.98.0.0/16 next-best reason \"kept\"",
  "add 2001:db8:99::/48 t2",
};

static void
cleanup(void)
{
  unlink(file);
}

static int
cmp_str(const void *a, const void *b)
{
  return strcmp(*(char * const *) a, *(char * const *) b);
}

/* An override or an add request as the reference compares them */
static char *
key(const net_addr_ip6 *n, const char *target, const char *reason)
{
  char buf[AUTOPILOT_LINE_MAX];
  bsnprintf(buf, sizeof(buf), "%N %s \"%s\"", (net_addr *) n, target ?: AUTOPILOT_NEXT_BEST, reason ?: "");
  return strdup(buf);
}

struct set {
  char **k;				/* Sorted keys */
  uint n;				/* How many */
};

static struct set
current(void)
{
  struct set s = { .k = malloc((P->store.count + 1) * sizeof(char *)) };

  HASH_WALK(P->store.hash, next_hash, o)
    if (!o->deleted)
      s.k[s.n++] = key(&o->net, o->target, o->reason);
  HASH_WALK_END;

  qsort(s.k, s.n, sizeof(char *), cmp_str);
  return s;
}

static int
same(struct set a, struct set b)
{
  if (a.n != b.n)
    return 0;
  for (uint i = 0; i < a.n; i++)
    if (strcmp(a.k[i], b.k[i]))
      return 0;
  return 1;
}

static void
set_free(struct set s)
{
  for (uint i = 0; i < s.n; i++)
    free(s.k[i]);
  free(s.k);
}

/* The file's add lines as keys; 0 if the reference finds a line that refuses the load */
static int
reference(const uint8_t *data, size_t size, struct set *s)
{
  struct autopilot_request req;
  struct autopilot_error err;
  char *line = malloc(size + 1);
  int ok = 1;

  s->k = malloc((size / 2 + 1) * sizeof(char *));
  s->n = 0;

  for (size_t pos = 0; ok && (pos < size); )
  {
    const uint8_t *nl = memchr(data + pos, '\n', size - pos);
    size_t len = nl ? (size_t) (nl - (data + pos)) + 1 : size - pos;

    if (!nl || (len > AUTOPILOT_LINE_MAX + 1) || memchr(data + pos, 0, len))
      ok = 0;
    else
    {
      memcpy(line, data + pos, len);
      line[len] = 0;
      if (autopilot_request_parse(line, current_real_time(), &req, &err, tmp_linpool) < 0)
	ok = 0;
      else if (req.op == AP_OP_ADD)
	s->k[s->n++] = key(&req.net, strcmp(req.target, AUTOPILOT_NEXT_BEST) ? req.target : NULL,
			   req.reason[0] ? req.reason : NULL);
      else if (req.op != AP_OP_NONE)
	ok = 0;
    }

    pos += len;
  }

  free(line);
  qsort(s->k, s->n, sizeof(char *), cmp_str);
  return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct cli_config ccf;
  struct autopilot_request req;
  struct autopilot_error err;

  if (!P)
  {
    fz_init();
    bsnprintf(file, sizeof(file), "%s/ap-fuzz-load.%d", (access("/dev/shm", W_OK) == 0) ? "/dev/shm" : "/tmp", (int) getpid());
    atexit(cleanup);
    P = fz_start_ap();
  }

  FILE *f = fopen(file, "w");
  FZ_CHECK(f && (!size || (fwrite(data, 1, size, f) == size)), "cannot write %s", file);
  fclose(f);

  for (uint i = 0; i < ARRAY_SIZE(before); i++)
  {
    FZ_CHECK(autopilot_request_parse(before[i], current_real_time(), &req, &err, tmp_linpool) == 0, "%s", err.msg);
    FZ_CHECK(autopilot_ovr_add(P, &req, AP_SRC_CLI, &err) == 0, "%s", err.msg);
  }
  fz_run_events();
  struct set old = current(), want;
  int loadable = reference(data, size, &want);

  /* What "birdc autopilot load ap FILE" runs, in a CLI session of its own */
  cli *c = cli_new(NULL, &ccf);
  ev_postpone(c->event);
  this_cli = c;
  autopilot_cmd_load(cf_find_symbol_cfg(config, "ap"), file);
  this_cli = NULL;
  cli_free(c);
  fz_run_events();

  struct set now = current();
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "fuzz: reference %s %u overrides; %s\n", loadable ? "loads" : "refuses", want.n,
	    same(now, old) ? "unchanged" : same(now, want) ? "loaded" : "neither");
  FZ_CHECK(same(now, old) || (loadable && same(now, want)),
	   "after the load: %u overrides, neither the %u before nor the %u of the file%s",
	   now.n, old.n, want.n, loadable ? "" : " (which cannot load)");

  set_free(old);
  set_free(want);
  set_free(now);

  autopilot_ovr_flush(P, NULL, AP_SRC_MAX);
  fz_run_events();
  lp_flush(tmp_linpool);
  return 0;
}
