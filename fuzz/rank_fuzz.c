/*
 *	bird-autopilot fuzz target -- the host's ranking, against a reference
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * A differential fuzz of autopilot_rank(). The input describes a prefix's
 * paths, as a host receives them from its switch: 6 bytes a path (at most
 * 96 paths, more egresses than rank.c keeps track of) after a first byte
 * giving K. Each path is built as the unit tests build them (BGP attributes,
 * labels in the next hop or in our large community, the disable community),
 * and ranked by rank.c; the reference ranks the same description
 * straightforwardly: the best path by preference, resolvability, LOCAL_PREF,
 * AS path length, origin, MED (same neighbor AS only), first in table
 * order on a tie; then, again and again, the best of the valid unicast
 * paths of an egress (next hop, label) not seen yet, which is an alternate
 * if it has a Precision Path label. Both must give the same alternates,
 * labels and "disabled", and rank.c must not read out of bounds.
 */

#include <string.h>

#include "fuzz.h"

#include "lib/string.h"
#include "lib/resource.h"
#include "nest/attrs.h"
#include "nest/route.h"
#include "proto/bgp/bgp.h"
#include "proto/autopilot/autopilot.h"

#define ASN		65000
#define MAX_PATHS	96
#define PATH_BYTES	6

/* What a path is, as the reference sees it */
struct path {
  uint pref;				/* BIRD preference */
  uint dest;				/* RTD_* */
  int filtered;				/* REF_FILTERED: not valid */
  int has_lp;				/* LOCAL_PREF given (else the default, 100) */
  uint lp;				/* LOCAL_PREF */
  uint as_len;				/* AS path length, 1..3 */
  uint first_as;			/* Neighbor AS */
  uint origin;				/* ORIGIN_* */
  int has_med;				/* MED given (else 0) */
  uint med;				/* MED */
  uint gw;				/* Next hop, 0..3 */
  int nh_label;				/* Label in the next hop (labeled unicast) */
  int lc_label;				/* Label in our large community (else none, unless nh_label) */
  u32 label;				/* The label, either way */
  int has_pp;				/* Precision Path label given */
  u32 pp_label;				/* It */
  int noise;				/* Other large communities: another ASN, another function */
  int disabled;				/* Carries the disable community */
  rte *r;				/* The path built from this */
};

static struct path paths[MAX_PATHS];
static uint npaths;
static struct autopilot_pp_community pp;
static struct proto *sw;
static linpool *lp;

static void
decode(const uint8_t *d, struct path *p)
{
  static const uint lps[4] = { 50, 100, 200, 300 };

  *p = (struct path) {
    .pref = (d[0] & 0x80) ? 200 : 100,
    .dest = ((d[0] & 0x60) == 0x60) ? ((d[0] & 0x10) ? RTD_UNREACHABLE : RTD_BLACKHOLE) : RTD_UNICAST,
    .filtered = (d[0] & 0x0f) == 0x0f,
    .has_lp = !!(d[0] & 0x04),
    .lp = lps[d[0] & 3],
    .as_len = 1 + (d[1] & 3) % 3,
    .first_as = 64500 + ((d[1] >> 2) & 3),
    .origin = ((d[1] >> 4) & 3) % 3,
    .has_med = !!(d[1] & 0x40),
    .med = (d[1] & 0x80) ? 10 : 20,
    .gw = d[2] & 3,
    .nh_label = !!(d[2] & 0x04),
    .lc_label = !!(d[2] & 0x08),
    .label = 1000 + (d[2] >> 4) + 16 * (d[3] & 3),
    .has_pp = !!(d[3] & 0x04),
    .pp_label = 2000 + (d[3] >> 3),
    .noise = !!(d[4] & 0x01),
    .disabled = (d[4] & 0x3e) == 0x3e,
  };
}

static rte *
build(struct path *pa, uint id)
{
  rta *a = lp_allocz(lp, sizeof(rta) + sizeof(u32));
  a->source = RTS_BGP;
  a->dest = pa->dest;
  a->pref = pa->pref;
  a->from = ipa_from_ip4(ip4_build(10, 0, 10, 1));
  a->nh.gw = ipa_from_ip4(ip4_build(10, 0, 10, 1 + pa->gw));
  if (pa->nh_label)
  {
    a->nh.labels = 1;
    a->nh.label[0] = pa->label;
  }

  bgp_set_attr_u32(&a->eattrs, lp, BA_ORIGIN, 0, pa->origin);
  const struct adata *path = &null_adata;
  for (uint i = 0; i < pa->as_len; i++)
    path = as_path_prepend(lp, path, (i + 1 == pa->as_len) ? pa->first_as : 64999 - i);
  bgp_set_attr_ptr(&a->eattrs, lp, BA_AS_PATH, 0, path);
  if (pa->has_lp)
    bgp_set_attr_u32(&a->eattrs, lp, BA_LOCAL_PREF, 0, pa->lp);
  if (pa->has_med)
    bgp_set_attr_u32(&a->eattrs, lp, BA_MULTI_EXIT_DISC, 0, pa->med);

  /* The noise first: a reader that ignores the ASN or the function picks it */
  const struct adata *lcs = NULL;
  if (pa->noise)
  {
    lcs = lc_set_add(lp, lcs, (lcomm) { ASN + 1, AUTOPILOT_LC_PP_LABEL, 7777 });
    lcs = lc_set_add(lp, lcs, (lcomm) { ASN, AUTOPILOT_LC_MAX + 1, 8888 });
  }
  if (pa->lc_label)
    lcs = lc_set_add(lp, lcs, (lcomm) { ASN, AUTOPILOT_LC_LABEL, pa->nh_label ? pa->label + 500 : pa->label });
  if (pa->has_pp)
    lcs = lc_set_add(lp, lcs, (lcomm) { ASN, AUTOPILOT_LC_PP_LABEL, pa->pp_label });
  if (pa->disabled)
    lcs = lc_set_add(lp, lcs, pp.lc);
  if (lcs)
    bgp_set_attr_ptr(&a->eattrs, lp, BA_LARGE_COMMUNITY, 0, lcs);

  rte *e = lp_allocz(lp, sizeof(rte));
  e->attrs = a;
  e->src = rt_get_source(sw, id + 1);
  if (pa->filtered)
    e->flags |= REF_FILTERED;
  return e;
}

/* The reference's label of a path: the next hop's, else our community's */
static u32
ref_label(const struct path *p)
{
  return p->nh_label ? p->label : p->lc_label ? p->label : AUTOPILOT_NO_LABEL;
}

/* BIRD's order on what these paths can differ in; 0 on a tie */
static int
ref_better(const struct path *x, const struct path *y)
{
  if (!y)
    return 1;
  if (x->pref != y->pref)
    return x->pref > y->pref;
  if ((x->dest != RTD_UNREACHABLE) != (y->dest != RTD_UNREACHABLE))
    return x->dest != RTD_UNREACHABLE;
  uint xl = x->has_lp ? x->lp : 100, yl = y->has_lp ? y->lp : 100;
  if (xl != yl)
    return xl > yl;
  if (x->as_len != y->as_len)
    return x->as_len < y->as_len;
  if (x->origin != y->origin)
    return x->origin < y->origin;
  if (x->first_as == y->first_as)
  {
    uint xm = x->has_med ? x->med : 0, ym = y->has_med ? y->med : 0;
    if (xm != ym)
      return xm < ym;
  }
  return 0;
}

struct ref_alt { uint path; u32 label, pp_label; };

static uint
ref_rank(uint k, int *disabled, struct ref_alt *out)
{
  struct path *best = NULL;
  uint seen_gw[64];
  u32 seen_label[64];
  uint seen = 0, n = 0;

  *disabled = 0;
  for (uint i = 0; i < npaths; i++)
    if (!paths[i].filtered)
    {
      *disabled |= paths[i].disabled;
      if (ref_better(&paths[i], best))
	best = &paths[i];
    }

  if (!best || *disabled)
    return 0;

  seen_gw[0] = best->gw;
  seen_label[0] = ref_label(best);
  seen = 1;

  while ((n < k) && (seen < 64))
  {
    struct path *pick = NULL;
    for (uint i = 0; i < npaths; i++)
    {
      struct path *p = &paths[i];
      if (p->filtered || (p == best) || (p->dest != RTD_UNICAST))
	continue;

      int known = 0;
      for (uint j = 0; j < seen; j++)
	known |= (seen_gw[j] == p->gw) && (seen_label[j] == ref_label(p));

      if (!known && ref_better(p, pick))
	pick = p;
    }

    if (!pick)
      break;

    seen_gw[seen] = pick->gw;
    seen_label[seen++] = ref_label(pick);
    if (pick->has_pp)
      out[n++] = (struct ref_alt) { pick - paths, ref_label(pick), pick->pp_label };
  }

  return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!sw)
  {
    fz_init();
    fz_configure(
      "router id 192.0.2.11;\n"
      "protocol device {}\n"
      "protocol bgp sw { disabled; local 10.0.10.2 as 65000; neighbor 10.0.10.1 as 65000;\n"
      "  ipv4 mpls { import all; export none; add paths rx; }; }\n");
    sw = fz_proto("sw");
    FZ_CHECK(sw, "no protocol sw");
    lp = lp_new_default(&root_pool);
    pp = (struct autopilot_pp_community) { .large = 1, .lc = AUTOPILOT_PP_DEFAULT };
  }

  if (!size)
    return 0;

  uint k = 1 + data[0] % AUTOPILOT_MAX_ALT;
  data++, size--;

  npaths = MIN(size / PATH_BYTES, MAX_PATHS);
  net *n = lp_allocz(lp, sizeof(net) + sizeof(net_addr_ip4));
  rte **last = &n->routes;
  for (uint i = 0; i < npaths; i++)
  {
    decode(data + i * PATH_BYTES, &paths[i]);
    *last = paths[i].r = build(&paths[i], i);
    last = &(*last)->next;
  }

  struct autopilot_alt out[AUTOPILOT_MAX_ALT];
  struct ref_alt want[AUTOPILOT_MAX_ALT];
  int disabled, want_disabled;

  uint got = autopilot_rank(n, ASN, &pp, out, k, &disabled);
  uint nwant = ref_rank(k, &want_disabled, want);

  FZ_CHECK(disabled == want_disabled, "disabled %d, reference %d", disabled, want_disabled);
  FZ_CHECK(got == nwant, "%u alternates of %u paths (K %u), reference %u", got, npaths, k, nwant);
  for (uint i = 0; i < got; i++)
  {
    FZ_CHECK(out[i].r == paths[want[i].path].r, "alternate %u: not path %u", i, want[i].path);
    FZ_CHECK(out[i].label == want[i].label, "alternate %u: label %u, reference %u", i, out[i].label, want[i].label);
    FZ_CHECK(out[i].pp_label == want[i].pp_label, "alternate %u: pp label %u, reference %u", i, out[i].pp_label, want[i].pp_label);
  }

  lp_flush(lp);
  return 0;
}
