/*
 * base64.c - RFC 4648 base64 encoder and lenient decoder (see base64.h).
 */
#include "base64.h"

#include "../model/error.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 digit in either alphabet (standard or URL-safe). */
static const uint8_t b64_value[256] = {
	['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,
	['F'] = 5,  ['G'] = 6,  ['H'] = 7,  ['I'] = 8,  ['J'] = 9,
	['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14,
	['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19,
	['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24,
	['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29,
	['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34,
	['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
	['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44,
	['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48, ['x'] = 49,
	['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54,
	['3'] = 55, ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59,
	['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63, ['-'] = 62,
	['_'] = 63,
};

/* The table above marks "not a digit" with 0 for unlisted bytes, which is
 * also the value of 'A'; this tells the two apart. */
static unsigned b64_digit(unsigned char c)
{
	if (c == 'A')
		return 0;
	uint8_t v = b64_value[c];
	return v == 0 ? 255u : v;
}

size_t mx_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t mx_base64_decoded_max(size_t n)
{
	return n / 4 * 3 + 3;
}

int mx_base64_encode(struct mx_buf *out, const uint8_t *src, size_t n)
{
	size_t olen = mx_base64_encoded_len(n);
	if (n > (SIZE_MAX - 2) / 4 * 3 || mx_buf_reserve(out, olen) != MX_OK)
		return MX_ENOMEM;
	char *d = (char *)out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
			     src[i + 2];
		*d++ = b64_alphabet[v >> 18];
		*d++ = b64_alphabet[(v >> 12) & 63];
		*d++ = b64_alphabet[(v >> 6) & 63];
		*d++ = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;
		*d++ = b64_alphabet[v >> 18];
		*d++ = b64_alphabet[(v >> 12) & 63];
		*d++ = '=';
		*d++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		*d++ = b64_alphabet[v >> 18];
		*d++ = b64_alphabet[(v >> 12) & 63];
		*d++ = b64_alphabet[(v >> 6) & 63];
		*d++ = '=';
	}
	out->len += olen;
	return MX_OK;
}

int mx_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *dst_len)
{
	const unsigned char *s = (const unsigned char *)src;
	*dst_len = 0;
	/* strip up to two padding characters; they must complete a quantum */
	size_t pad = 0;
	while (n > 0 && pad < 2 && s[n - 1] == '=') {
		n--;
		pad++;
	}
	if (pad && (n + pad) % 4 != 0)
		return MX_EINVAL;
	if (n % 4 == 1)
		return MX_EINVAL;
	size_t o = 0, i = 0;
	for (; i + 4 <= n; i += 4) {
		unsigned a = b64_digit(s[i]), b = b64_digit(s[i + 1]);
		unsigned c = b64_digit(s[i + 2]), e = b64_digit(s[i + 3]);
		if ((a | b | c | e) > 63)
			return MX_EINVAL;
		uint32_t v = a << 18 | b << 12 | c << 6 | e;
		dst[o++] = (uint8_t)(v >> 16);
		dst[o++] = (uint8_t)(v >> 8);
		dst[o++] = (uint8_t)v;
	}
	size_t rest = n - i;
	if (rest >= 2) {
		unsigned a = b64_digit(s[i]), b = b64_digit(s[i + 1]);
		unsigned c = rest == 3 ? b64_digit(s[i + 2]) : 0;
		if ((a | b | c) > 63)
			return MX_EINVAL;
		uint32_t v = a << 18 | b << 12 | c << 6;
		dst[o++] = (uint8_t)(v >> 16);
		if (rest == 3)
			dst[o++] = (uint8_t)(v >> 8);
	}
	*dst_len = o;
	return MX_OK;
}
