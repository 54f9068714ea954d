/*
 * arena.c - chunked bump allocator (see arena.h).
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_FIRST_CHUNK (16u * 1024u)
#define ARENA_MAX_CHUNK (4u * 1024u * 1024u)
#define ARENA_ALIGN 16u

struct mx_arena_chunk {
	struct mx_arena_chunk *prev;
	size_t size; /* usable bytes in data[] */
	size_t used;
	_Alignas(16) unsigned char data[];
};

void mx_arena_init(struct mx_arena *a, size_t cap)
{
	a->head = NULL;
	a->total = 0;
	a->cap = cap;
	a->next_chunk = ARENA_FIRST_CHUNK;
}

static struct mx_arena_chunk *arena_grow(struct mx_arena *a, size_t need)
{
	size_t size = a->next_chunk;
	while (size < need)
		size *= 2;
	if (size > a->cap - a->total) {
		/* last chunk: take exactly what is left under the cap */
		if (need > a->cap - a->total)
			return NULL;
		size = a->cap - a->total;
	}
	struct mx_arena_chunk *c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->prev = a->head;
	c->size = size;
	c->used = 0;
	a->head = c;
	a->total += size;
	if (a->next_chunk < ARENA_MAX_CHUNK)
		a->next_chunk *= 2;
	return c;
}

void *mx_arena_alloc(struct mx_arena *a, size_t n)
{
	size_t rounded = (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
	if (rounded < n)
		return NULL;
	struct mx_arena_chunk *c = a->head;
	if (!c || c->size - c->used < rounded) {
		c = arena_grow(a, rounded ? rounded : ARENA_ALIGN);
		if (!c)
			return NULL;
	}
	void *p = c->data + c->used;
	c->used += rounded;
	return p;
}

void *mx_arena_calloc(struct mx_arena *a, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = mx_arena_alloc(a, count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

char *mx_arena_strndup(struct mx_arena *a, const char *src, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	char *p = mx_arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, src, len);
	p[len] = '\0';
	return p;
}

void mx_arena_reset(struct mx_arena *a)
{
	size_t cap = a->cap;
	mx_arena_free(a);
	mx_arena_init(a, cap);
}

void mx_arena_free(struct mx_arena *a)
{
	if (!a)
		return;
	struct mx_arena_chunk *c = a->head;
	while (c) {
		struct mx_arena_chunk *prev = c->prev;
		free(c);
		c = prev;
	}
	a->head = NULL;
	a->total = 0;
}
