/*
 * Lowercase hexadecimal encoding; decoding accepts lowercase only, so that
 * every hash has exactly one spelling.
 */
#include "hex.h"

static const char digits[] = "0123456789abcdef";

void
pd_hex_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
pd_hex_decode(const char *in, size_t n, unsigned char *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if ((hi = val(in[2 * i])) < 0 || (lo = val(in[2 * i + 1])) < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}
