/*
 *	bird-autopilot unit tests -- metrics (Prometheus text) and the metrics file
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * The protocol runs in process; overrides are made through the override
 * API as the socket, birdc and the routing manager make them, and the text
 * is read back as a scraper reads it: line by line. The file is written by
 * the protocol's own timer, fired here as BIRD's I/O loop fires it.
 * (Parsing by Prometheus' own parser and promtool: tests/integration.)
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"

#include "lib/string.h"
#include "lib/timer.h"
#include "proto/autopilot/autopilot.h"

static char dir[64];			/* Per-run directory of the files */
static struct autopilot_proto *p;	/* The running protocol */

#define EGRESSES AP_EGRESSES

/* Start protocol ap with @opts (more lines for its body) */
#define start(opts) (p = ap_start(EGRESSES, (opts)))

/* A config of protocol ap with @opts */
#define conf(opts) ap_conf(EGRESSES, (opts))

/* The metrics text now, NUL-terminated, in tmp_linpool */
static char *
render(void)
{
  struct autopilot_text t = { .pool = p->p.pool };
  autopilot_metrics_render(p, &t);
  char *s = lp_alloc(tmp_linpool, t.len + 1);
  memcpy(s, t.data, t.len);
  s[t.len] = 0;
  mb_free(t.data);
  return s;
}

/* @text has the line @line, whole */
#define assert_line(text, line) do {						\
    const char *_t = (text), *_l = (line);					\
    size_t _n = strlen(_l);							\
    const char *_at = _t;							\
    while ((_at = strstr(_at, _l)) && !(((_at == _t) || (_at[-1] == '\n')) && (_at[_n] == '\n')))	\
      _at++;									\
    if (!_at)									\
      fail_msg("no line \"%s\" in:\n%s", _l, _t);				\
  } while (0)

static void
add(const char *line, uint source)
{
  struct autopilot_error err;
  struct autopilot_request req;

  assert_int_equal(autopilot_request_parse(line, current_real_time(), &req, &err, tmp_linpool), 0);
  if (autopilot_ovr_add(p, &req, source, &err) < 0)
    fail_msg("%s: %s", line, err.msg);
  ap_run_events();
}

/* Each family's HELP and TYPE once, before its samples; every sample of a known family; # EOF last */
static void
assert_well_formed(const char *text)
{
  char fams[64][96];
  uint nfam = 0;
  const char *cur = NULL;

  assert_true(strlen(text) > 6);
  assert_string_equal(text + strlen(text) - 6, "# EOF\n");

  for (const char *l = text; *l; l = strchr(l, '\n') + 1)
  {
    char name[96];

    if (sscanf(l, "# TYPE %95s", name) == 1)
    {
      for (uint i = 0; i < nfam; i++)
	if (!strcmp(fams[i], name))
	  fail_msg("family %s twice", name);
      assert_true(nfam < 64);
      strcpy(fams[nfam], name);
      cur = fams[nfam++];
      continue;
    }
    if (l[0] == '#')
      continue;

    /* A sample: NAME{protocol="ap",...} VALUE, NAME the family's (or a histogram's part) */
    assert_non_null(cur);
    assert_int_equal(sscanf(l, "%95[a-z_]{", name), 1);
    size_t n = strlen(cur);
    if (strncmp(name, cur, n) || (name[n] && strcmp(name + n, "_bucket") && strcmp(name + n, "_sum") &&
				  strcmp(name + n, "_count")))
      fail_msg("sample %s under family %s", name, cur);
    assert_memory_equal(l + strlen(name), "{protocol=\"ap\"", 14);
  }
}

static int
setup(void **state UNUSED)
{
  ap_mkdir(dir, sizeof(dir), "metrics-test");
  return 0;
}

static int
teardown(void **state UNUSED)
{
  ap_configure(EGRESSES);
  p = NULL;
  ap_rmdir(dir);
  return 0;
}


static void
egresses_and_overrides_by_state_and_source(void **state UNUSED)
{
  start("");
  char *t = render();

  assert_well_formed(t);
  assert_line(t, "bird_autopilot_up{protocol=\"ap\"} 1");
  assert_line(t, "bird_autopilot_egress_info{protocol=\"ap\",egress=\"t1\",label=\"1001\",pp_label=\"2001\",neighbor=\"10.0.1.2\"} 1");
  assert_line(t, "bird_autopilot_egress_up{protocol=\"ap\",egress=\"t2\"} 0");
  assert_line(t, "bird_autopilot_egress_paths{protocol=\"ap\",egress=\"t2\",family=\"ipv6\"} 0");
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"pending\",source=\"controller\"} 0");
  assert_line(t, "bird_autopilot_overrides_limit{protocol=\"ap\"} 1000000");
  /* No socket, state file, manager, host tables or LFIB: nothing of theirs */
  assert_null(strstr(t, "controller_requests_total"));
  assert_null(strstr(t, "state_file"));
  assert_null(strstr(t, "host_"));
  assert_null(strstr(t, "lfib"));

  add("add 10.8.0.0/16 t2", AP_SRC_CLI);
  add("add 10.9.0.0/16 t1", AP_SRC_BGP);
  add("add 10.1.0.0/16 t1", AP_SRC_CONTROLLER);
  add("add 2001:db8:1::/48 next-best", AP_SRC_CONTROLLER);
  /* A replacement from another source moves the override to that source */
  add("add 10.8.0.0/16 t1", AP_SRC_CONTROLLER);
  struct autopilot_error err;
  assert_int_equal(autopilot_ovr_withdraw(p, (net_addr *) &NET_ADDR_IP4(ip4_build(10, 1, 0, 0), 16), &err), 0);
  ap_run_events();

  /* No path anywhere (sessions disabled): all pending */
  t = render();
  assert_well_formed(t);
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"pending\",source=\"cli\"} 0");
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"pending\",source=\"controller\"} 2");
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"pending\",source=\"bgp\"} 1");
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"active\",source=\"controller\"} 0");
  assert_line(t, "bird_autopilot_override_changes_total{protocol=\"ap\",kind=\"added\"} 4");
  assert_line(t, "bird_autopilot_override_changes_total{protocol=\"ap\",kind=\"replaced\"} 1");
  assert_line(t, "bird_autopilot_override_changes_total{protocol=\"ap\",kind=\"withdrawn\"} 1");

  /* The counts by source add up to the override count whatever happened */
  uint sum = 0;
  for (uint src = 0; src < AP_SRC_MAX; src++)
    for (uint st = 0; st < AP_OVR_STATES; st++)
      sum += p->store.by_source[src][st];
  assert_int_equal(sum, autopilot_ovr_count(p));
  assert_int_equal(sum, 3);

  /* A flush takes them all away from every source */
  autopilot_ovr_flush(p, NULL, AP_SRC_MAX);
  ap_run_events();
  t = render();
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"pending\",source=\"controller\"} 0");
  assert_line(t, "bird_autopilot_overrides{protocol=\"ap\",state=\"pending\",source=\"bgp\"} 0");
}

static void
replies_by_code_and_commit_times(void **state UNUSED)
{
  start(tmp_sprintf("  controller socket \"%s/ap.ctl\";\n  state filename \"%s/ap.state\";\n", dir, dir));

  const char *replies[] = {
    "ok", "ok pong", "ok 3", "error not-found no override for 10.0.0.0/8",
    "error batch line 3: unknown-egress: no egress 'x' in protocol ap",
    "error bad-request column 1: unknown request 'x'", "error some-new-code message", "okay",
  };
  for (uint i = 0; i < ARRAY_SIZE(replies); i++)
    autopilot_metrics_reply(p, replies[i]);

  autopilot_metrics_observe(&p->metrics.commit[0], 500);		/* 0.5 ms */
  autopilot_metrics_observe(&p->metrics.commit[0], 3 MS);
  autopilot_metrics_observe(&p->metrics.commit[0], 20 S);
  autopilot_metrics_observe(&p->metrics.commit[1], 1 S);		/* On the bound: le="1" */

  char *t = render();
  assert_well_formed(t);
  assert_line(t, "bird_autopilot_controller_requests_total{protocol=\"ap\",code=\"ok\"} 3");
  assert_line(t, "bird_autopilot_controller_requests_total{protocol=\"ap\",code=\"not-found\"} 1");
  assert_line(t, "bird_autopilot_controller_requests_total{protocol=\"ap\",code=\"batch\"} 1");
  assert_line(t, "bird_autopilot_controller_requests_total{protocol=\"ap\",code=\"bad-request\"} 1");
  assert_line(t, "bird_autopilot_controller_requests_total{protocol=\"ap\",code=\"unknown-egress\"} 0");
  assert_line(t, "bird_autopilot_controller_requests_total{protocol=\"ap\",code=\"other\"} 2");
  assert_line(t, "bird_autopilot_controller_socket_listening{protocol=\"ap\"} 1");

  assert_line(t, "bird_autopilot_batch_commit_seconds_bucket{protocol=\"ap\",kind=\"batch\",le=\"0.001\"} 1");
  assert_line(t, "bird_autopilot_batch_commit_seconds_bucket{protocol=\"ap\",kind=\"batch\",le=\"0.005\"} 2");
  assert_line(t, "bird_autopilot_batch_commit_seconds_bucket{protocol=\"ap\",kind=\"batch\",le=\"10\"} 2");
  assert_line(t, "bird_autopilot_batch_commit_seconds_bucket{protocol=\"ap\",kind=\"batch\",le=\"+Inf\"} 3");
  assert_line(t, "bird_autopilot_batch_commit_seconds_sum{protocol=\"ap\",kind=\"batch\"} 20.003500");
  assert_line(t, "bird_autopilot_batch_commit_seconds_count{protocol=\"ap\",kind=\"batch\"} 3");
  assert_line(t, "bird_autopilot_batch_commit_seconds_bucket{protocol=\"ap\",kind=\"sync\",le=\"0.5\"} 0");
  assert_line(t, "bird_autopilot_batch_commit_seconds_bucket{protocol=\"ap\",kind=\"sync\",le=\"1\"} 1");

  /* A change goes to the journal: one write, no failure */
  add("add 10.8.0.0/16 t2", AP_SRC_CLI);
  assert_int_equal(autopilot_state_commit(p), 0);
  t = render();
  assert_line(t, "bird_autopilot_state_file_writes_total{protocol=\"ap\",kind=\"journal\"} 1");
  assert_line(t, "bird_autopilot_state_file_write_failures_total{protocol=\"ap\"} 0");
  assert_line(t, "bird_autopilot_state_file_failing{protocol=\"ap\"} 0");
}

static void
bad_metrics_files_are_config_errors(void **state UNUSED)
{
  assert_config_error(conf("  metrics filename \"/nonexistent/dir/ap.prom\";\n"), "no directory /nonexistent/dir");
  assert_config_error(conf(tmp_sprintf("  metrics filename \"%s/ap.prom\" interval 0 s;\n", dir)), "out of range");
  assert_config_error(conf(tmp_sprintf("  metrics filename \"%s/ap.prom\" interval 3601 s;\n", dir)), "out of range");
  assert_config_error(conf(tmp_sprintf("  metrics filename \"%s/\";\n", dir)), "a file name is needed");
  assert_config_error(conf(tmp_sprintf("  metrics filename \"%s\";\n", dir)), "not a regular file");
  assert_config_error(conf(tmp_sprintf("  metrics filename \"%s/x\";\n  state filename \"%s/x\";\n", dir, dir)),
		      "state file and metrics file of protocol ap are one path");

  char two[2048];
  bsnprintf(two, sizeof(two), "%s" "protocol autopilot ap2 { ipv4 { table t4; }; metrics filename \"%s/ap.prom\"; }\n",
	    conf(tmp_sprintf("  metrics filename \"%s/ap.prom\";\n", dir)), dir);
  char *with_table = tmp_sprintf("ipv4 table t4;\n%s", two);
  assert_config_error(with_table, "is already the metrics file of protocol ap (one protocol per file)");

  /* Nothing was started by any of them */
  assert_null(ap_find_proto("ap"));
}

/* Fire the protocol's timers as the I/O loop would, with the metrics file due now */
static void
fire(void)
{
  tm_start(p->metrics.file_timer, 0);
  timers_fire(&main_timeloop);
  ap_run_events();
}

static char *
read_file(const char *file)
{
  FILE *f = fopen(file, "r");
  if (!f)
    return NULL;

  char *buf = lp_allocz(tmp_linpool, 65536);
  size_t n = fread(buf, 1, 65535, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

static void
file_written_atomically_failures_counted(void **state UNUSED)
{
  /* Not in tmp_linpool: timers and events flush it */
  static char file[128], moved[128];
  bsnprintf(file, sizeof(file), "%s/d/ap.prom", dir);
  bsnprintf(moved, sizeof(moved), "%s/moved.prom", dir);
  mkdir(tmp_sprintf("%s/d", dir), 0755);
  start(tmp_sprintf("  metrics filename \"%s\" interval 1 s;\n", file));
  fire();

  struct stat st;
  assert_int_equal(stat(file, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  assert_int_equal(access(tmp_sprintf("%s.tmp", file), F_OK), -1);

  /* The file is the text the socket gets, bar the counters the write itself moved */
  char *text = read_file(file);
  assert_non_null(text);
  assert_well_formed(text);
  assert_line(text, "bird_autopilot_up{protocol=\"ap\"} 1");
  assert_line(text, "bird_autopilot_metrics_file_writes_total{protocol=\"ap\"} 0");
  assert_int_equal(p->metrics.file_writes, 1);
  assert_true((p->metrics.file_took > 0) && (p->metrics.file_took < 10 S));
  assert_non_null(strstr(render(), "\nbird_autopilot_metrics_file_last_write_duration_seconds{protocol=\"ap\"} 0."));

  /* Its directory goes: counted at every interval, the protocol runs on */
  assert_int_equal(system(tmp_sprintf("rm -rf %s/d", dir)), 0);
  fire();
  fire();
  assert_int_equal(p->metrics.file_failures, 2);
  assert_true(p->metrics.file_failing);
  assert_non_null(strstr(p->metrics.file_error, "No such file or directory"));
  assert_line(render(), "bird_autopilot_metrics_file_write_failures_total{protocol=\"ap\"} 2");

  /* Back: written again */
  mkdir(tmp_sprintf("%s/d", dir), 0755);
  fire();
  assert_false(p->metrics.file_failing);
  assert_int_equal(p->metrics.file_writes, 2);
  assert_line(read_file(file), "bird_autopilot_metrics_file_write_failures_total{protocol=\"ap\"} 2");

  /* A new interval in place; a new path moves the file (the old one is ours: removed) */
  struct proto *before = &p->p;
  start(tmp_sprintf("  metrics filename \"%s\" interval 7 s;\n", file));
  assert_ptr_equal(&p->p, before);
  assert_int_equal(p->metrics.file_timer->recurrent, 7 S);
  start(tmp_sprintf("  metrics filename \"%s\";\n", moved));
  assert_ptr_equal(&p->p, before);
  assert_int_equal(access(file, F_OK), -1);
  fire();
  assert_int_equal(access(moved, F_OK), 0);

  /* Disabled: the file says it is down */
  ap_configure(conf(tmp_sprintf("  disabled;\n  metrics filename \"%s\";\n", moved)));
  text = read_file(moved);
  assert_non_null(text);
  assert_string_equal(text, "# HELP bird_autopilot_up 1 while the autopilot protocol runs, else 0.\n"
		      "# TYPE bird_autopilot_up gauge\nbird_autopilot_up{protocol=\"ap\"} 0\n# EOF\n");

  /* Removed from the config: its file goes with it */
  start(tmp_sprintf("  metrics filename \"%s\";\n", moved));
  fire();
  assert_line(read_file(moved), "bird_autopilot_up{protocol=\"ap\"} 1");
  ap_configure(EGRESSES);
  assert_int_equal(access(moved, F_OK), -1);
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    ap_test(egresses_and_overrides_by_state_and_source),
    ap_test(replies_by_code_and_commit_times),
    ap_test(bad_metrics_files_are_config_errors),
    ap_test(file_written_atomically_failures_counted),
  };

  return cmocka_run_group_tests_name("autopilot metrics", tests, NULL, NULL);
}
