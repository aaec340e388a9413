/*
 *	bird-autopilot unit tests -- prefix tries at 32-bit word boundaries
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * BIRD's tries (prefix sets in filters, the host cache that resolves
 * recursive next hops of iBGP and multihop sessions) ask ip6_getbits() for
 * no bits where a prefix length is a multiple of 32: a shift of a u32 by 32,
 * undefined in C, which UndefinedBehaviorSanitizer stopped at in the bgp
 * fuzz target (an IPv6 /32 from a multihop egress) and in the config target
 * (a pattern like [2001:db8::/97-]). Patch 0014 makes no bits 0. In the
 * ordinary build these check the values; in make check-asan (UBSan, every
 * report fatal) also that nothing undefined happens on the way.
 */

#include "harness.h"

#include "lib/ip.h"
#include "lib/resource.h"
#include "nest/route.h"
#include "nest/attrs.h"
#include "filter/data.h"

static void
no_bits_are_zero(void **state UNUSED)
{
  ip6_addr a = ip6_build(0x20010db8, 0xffffffff, 0xffffffff, 0xffffffff);

  for (uint pos = 0; pos < 128; pos += 32)
    assert_int_equal(ip6_getbits(a, pos, 0), 0);

  assert_int_equal(ip4_getbits(ip4_from_u32(0xffffffff), 0, 0), 0);

  /* Bits still read right next to a boundary */
  assert_int_equal(ip6_getbits(a, 0, 4), 0x2);
  assert_int_equal(ip6_getbits(a, 28, 4), 0x8);
  assert_int_equal(ip6_getbits(a, 32, 4), 0xf);
}

static net_addr
net6(u32 a0, u32 a1, uint pxlen)
{
  net_addr n;
  net_fill_ip6(&n, ip6_build(a0, a1, 0, 0), pxlen);
  return n;
}

/* A prefix set from /97 down, and /32 and /64 prefixes, as the host cache looks them up */
static void
tries_at_word_boundaries(void **state UNUSED)
{
  linpool *lp = lp_new_default(&root_pool);

  struct f_trie *t = f_new_trie(lp, 0);
  net_addr base = net6(0x20010db8, 0, 96);
  trie_add_prefix(t, &base, 97, 128);

  net_addr in = net6(0x20010db8, 0, 100), out = net6(0x20010db8, 0, 96);
  assert_true(trie_match_net(t, &in));
  assert_false(trie_match_net(t, &out));

  struct f_trie *h = f_new_trie(lp, 0);
  net_addr p32 = net6(0x20010db8, 0, 32), p64 = net6(0x20010db8, 0x00010000, 64);
  trie_add_prefix(h, &p32, 32, 128);
  assert_true(trie_match_net(h, &p32));
  assert_true(trie_match_net(h, &p64));

  net_addr other = net6(0x20010db9, 0, 64);
  assert_false(trie_match_net(h, &other));

  rfree(lp);
}

int
main(void)
{
  ap_bird_init();

  const struct CMUnitTest tests[] = {
    cmocka_unit_test(no_bits_are_zero),
    cmocka_unit_test(tries_at_word_boundaries),
  };

  return cmocka_run_group_tests_name("prefix tries at word boundaries", tests, NULL, NULL);
}
