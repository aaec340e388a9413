/*
 *	bird-autopilot fuzz target -- the configuration grammar
 *
 *	(c) 2026 bird-autopilot developers
 *
 *	Can be freely distributed and used under the terms of the GNU GPL.
 */

/*
 * One input is a bird.conf, parsed by BIRD's config parser with the
 * module's grammar (config.Y) and its postconfig checks (egresses, labels,
 * backups, channels, the Precision Path community, socket and state file
 * options): "bird -p" without the process. The seeds are the example
 * configs and the unit tests' autopilot blocks. Checked: an error is a
 * config error with a message and a line, never a crash, a leak or a
 * sanitizer report. Nothing is committed (a random config could start a
 * kernel protocol), and inputs that name a file to open at parse time
 * ("include", "log", "mrtdump") are skipped: a fuzzer must not write files
 * where the input says.
 */

#include <ctype.h>
#include <string.h>

#include "fuzz.h"

#include "lib/string.h"

static int
has_word(const uint8_t *data, size_t size, const char *w)
{
  size_t n = strlen(w);

  /* BIRD's keywords are case-insensitive */
  for (size_t i = 0; i + n <= size; i++)
    if (!strncasecmp((const char *) data + i, w, n))
      return 1;

  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fz_init();

  if (has_word(data, size, "include") || has_word(data, size, "log") || has_word(data, size, "mrtdump"))
    return 0;

  struct config *c = fz_parse((const char *) data, size);
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "fuzz: %s\n", c ? "parses" : fz_parse_error);

  if (!c)
  {
    /* fz_parse() says "line N: unknown error" when BIRD gave no message */
    const char *msg = strstr(fz_parse_error, ": ");
    FZ_CHECK(!strncmp(fz_parse_error, "line ", 5) && msg && msg[2] && strcmp(msg + 2, "unknown error"),
	     "config error without a message: %s", fz_parse_error);
    return 0;
  }

  config_free(c);
  return 0;
}
