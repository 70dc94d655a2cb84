/*
 * Lowercase hexadecimal, as used for hashes and key ids everywhere.
 */
#ifndef PD_HEX_H
#define PD_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Write 2n lowercase hex digits and a NUL to out (2n + 1 bytes). */
void	pd_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decode exactly 2n lowercase hex digits; false on any other byte. */
bool	pd_hex_decode(const char *in, size_t n, unsigned char *out);

#endif
