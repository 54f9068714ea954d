/*
 * buf.c - growable byte buffer with a hard cap (see buf.h).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void mx_buf_init(struct mx_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->failed = false;
}

int mx_buf_reserve(struct mx_buf *b, size_t n)
{
	if (b->failed)
		return MX_ENOMEM;
	if (n > b->max || b->len > b->max - n) {
		b->failed = true;
		return MX_ENOMEM;
	}
	size_t need = b->len + n;
	if (need <= b->cap)
		return MX_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max)
		cap = b->max;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return MX_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return MX_OK;
}

int mx_buf_append(struct mx_buf *b, const void *p, size_t n)
{
	if (mx_buf_reserve(b, n) != MX_OK)
		return MX_ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return MX_OK;
}

int mx_buf_puts(struct mx_buf *b, const char *s)
{
	return mx_buf_append(b, s, strlen(s));
}

int mx_buf_putc(struct mx_buf *b, uint8_t c)
{
	if (b->len < b->cap && !b->failed) {
		b->data[b->len++] = c;
		return MX_OK;
	}
	return mx_buf_append(b, &c, 1);
}

int mx_buf_printf(struct mx_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return MX_ENOMEM;
	}
	if ((size_t)n < sizeof(small))
		return mx_buf_append(b, small, (size_t)n);
	if (mx_buf_reserve(b, (size_t)n + 1) != MX_OK)
		return MX_ENOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MX_OK;
}

int mx_buf_varint(struct mx_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	return mx_buf_append(b, tmp, n);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		len = 2;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* reject overlong forms, surrogates and values past U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int mx_buf_json_escape(struct mx_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0, run = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		if (run)
			mx_buf_append(b, s + i - run, run);
		run = 0;
		if (c == '"' || c == '\\') {
			uint8_t esc[2] = { '\\', c };
			mx_buf_append(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			char esc[7];
			switch (c) {
			case '\n': mx_buf_append(b, "\\n", 2); break;
			case '\r': mx_buf_append(b, "\\r", 2); break;
			case '\t': mx_buf_append(b, "\\t", 2); break;
			default:
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
				esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
				mx_buf_append(b, esc, 6);
			}
			i++;
		} else {
			size_t l = utf8_seq_len(s + i, n - i);
			if (l == 0) {
				mx_buf_append(b, "\xEF\xBF\xBD", 3);
				i++;
			} else {
				mx_buf_append(b, s + i, l);
				i += l;
			}
		}
	}
	if (run)
		mx_buf_append(b, s + i - run, run);
	return b->failed ? MX_ENOMEM : MX_OK;
}

void mx_buf_reset(struct mx_buf *b)
{
	b->len = 0;
	b->failed = false;
}

uint8_t *mx_buf_steal(struct mx_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
	return p;
}

void mx_buf_free(struct mx_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
