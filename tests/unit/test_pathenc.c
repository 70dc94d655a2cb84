/*
 * Path escaping and path checks (spec/MANIFEST.md, "Escaping", "Paths").
 */
#include <string.h>

#include "../../common/buf.h"
#include "../../protocol/pathenc.h"
#include "unit.h"

/* Escape n bytes and compare with want. */
static void
escapes_as(const char *raw, size_t n, const char *want)
{
	struct pd_buf b;

	pd_buf_init(&b, 1 << 16);
	CU_ASSERT_EQUAL_FATAL(pr_escape(&b, raw, n), PD_OK);
	CU_ASSERT_STRING_EQUAL(b.data ? (char *)b.data : "", want);
	pd_buf_free(&b);
}

static void
test_escape(void)
{
	escapes_as("plain/path-1.txt", 16, "plain/path-1.txt");
	escapes_as("has space", 9, "has%20space");
	escapes_as("new\nline", 8, "new%0Aline");
	escapes_as("100%", 4, "100%25");
	escapes_as("a\0b", 3, "a%00b");
	escapes_as("\x7f\x01\t", 3, "%7F%01%09");
	escapes_as("caf\xc3\xa9", 5, "caf\xc3\xa9");		/* é */
	escapes_as("\xf0\x9f\x93\x81", 4, "\xf0\x9f\x93\x81");	/* U+1F4C1 */
	escapes_as("bad\xff", 4, "bad%FF");
	escapes_as("\xc3", 1, "%C3");				/* truncated */
	escapes_as("\xc0\xaf", 2, "%C0%AF");			/* overlong / */
	escapes_as("\xed\xa0\x80", 3, "%ED%A0%80");		/* surrogate */
	escapes_as("\xf4\x90\x80\x80", 4, "%F4%90%80%80");	/* > U+10FFFF */
	escapes_as("\xe0\x80\xaf", 3, "%E0%80%AF");		/* overlong */
}

static bool
unescapes_to(const char *in, const char *raw, size_t n)
{
	char out[256];
	size_t len;

	if (!pr_unescape(in, strlen(in), out, &len))
		return false;
	return len == n && memcmp(out, raw, n) == 0;
}

static bool
rejects(const char *in)
{
	char out[256];
	size_t len;

	return !pr_unescape(in, strlen(in), out, &len);
}

static void
test_unescape(void)
{
	CU_ASSERT_TRUE(unescapes_to("has%20space", "has space", 9));
	CU_ASSERT_TRUE(unescapes_to("a%00b", "a\0b", 3));
	CU_ASSERT_TRUE(unescapes_to("caf\xc3\xa9", "caf\xc3\xa9", 5));
	CU_ASSERT_TRUE(unescapes_to("bad%FF", "bad\xff", 4));
	CU_ASSERT_TRUE(unescapes_to("%C3", "\xc3", 1));
	/* One spelling only. */
	CU_ASSERT_TRUE(rejects("%41"));		/* A must be literal */
	CU_ASSERT_TRUE(rejects("%0a"));		/* lowercase hex */
	CU_ASSERT_TRUE(rejects("caf%C3%A9"));	/* valid UTF-8 escaped */
	CU_ASSERT_TRUE(rejects("%4"));		/* truncated */
	CU_ASSERT_TRUE(rejects("%"));
	CU_ASSERT_TRUE(rejects("%GG"));
	CU_ASSERT_TRUE(rejects("a b"));		/* space literal */
	CU_ASSERT_TRUE(rejects("a\nb"));
	CU_ASSERT_TRUE(rejects("bad\xff"));	/* raw invalid UTF-8 */
	CU_ASSERT_TRUE(rejects("\xc0\xaf"));	/* raw overlong */
}

/* Every byte string of length 1 and 2 survives a round trip. */
static void
test_roundtrip_all_bytes(void)
{
	unsigned char raw[2], out[8];
	struct pd_buf b;
	size_t len;
	unsigned i, j;
	int bad = 0;

	pd_buf_init(&b, 64);
	for (i = 0; i < 256; i++)
		for (j = 0; j < 256; j++) {
			raw[0] = (unsigned char)i;
			raw[1] = (unsigned char)j;
			pd_buf_reset(&b);
			if (pr_escape(&b, raw, 2) != PD_OK ||
			    memchr(b.data, ' ', b.len) != NULL ||
			    memchr(b.data, '\n', b.len) != NULL ||
			    !pr_unescape((char *)b.data, b.len, (char *)out,
			    &len) || len != 2 || memcmp(out, raw, 2) != 0)
				bad++;
		}
	pd_buf_free(&b);
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_is_plain(void)
{
	CU_ASSERT_TRUE(pr_is_plain("abc/def", 7));
	CU_ASSERT_TRUE(pr_is_plain("caf\xc3\xa9", 5));
	CU_ASSERT_FALSE(pr_is_plain("a b", 3));
	CU_ASSERT_FALSE(pr_is_plain("a%b", 3));
	CU_ASSERT_FALSE(pr_is_plain("a\nb", 3));
	CU_ASSERT_FALSE(pr_is_plain("\xff", 1));
}

static void
test_path_check(void)
{
	char longc[300], longp[4200];

	CU_ASSERT_PTR_NULL(pr_path_check("a", 1));
	CU_ASSERT_PTR_NULL(pr_path_check("a/b/c.txt", 9));
	CU_ASSERT_PTR_NULL(pr_path_check("..a/b..", 7));
	CU_ASSERT_PTR_NULL(pr_path_check(".hidden", 7));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("", 0));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("/etc", 4));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("a/", 2));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("a//b", 4));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check(".", 1));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("..", 2));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("a/../b", 6));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("a/./b", 5));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check("a\0b", 3));
	memset(longc, 'x', sizeof(longc));
	CU_ASSERT_PTR_NULL(pr_path_check(longc, 255));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check(longc, 256));
	memset(longp, 'x', sizeof(longp));
	for (size_t i = 100; i < sizeof(longp); i += 101)
		longp[i] = '/';
	CU_ASSERT_PTR_NULL(pr_path_check(longp, 4095 - 4095 % 101 - 1));
	CU_ASSERT_PTR_NOT_NULL(pr_path_check(longp, 4096));
}

static int
suite_pathenc(void)
{
	static const struct unit_test tests[] = {
		{ "escape", test_escape },
		{ "unescape one spelling", test_unescape },
		{ "round trip of all byte pairs", test_roundtrip_all_bytes },
		{ "is_plain", test_is_plain },
		{ "path_check", test_path_check },
	};

	return UNIT_SUITE("pathenc", NULL, NULL, tests);
}
UNIT_REGISTER("pathenc", suite_pathenc)
