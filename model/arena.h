/*
 * arena.h - per-batch bump allocator with a hard cap.
 *
 * Everything decoded from one request (spans, strings, attribute arrays, and
 * protobuf-c's own unpacked structs) is allocated from one arena and released
 * at once with mx_arena_free(). Allocation is a pointer bump inside a chunk;
 * new chunks double in size up to a maximum chunk size. The arena refuses
 * (returns NULL) once the total it holds would pass its cap, which bounds the
 * memory one hostile request can make mixd allocate.
 */
#ifndef MX_ARENA_H
#define MX_ARENA_H

#include <stddef.h>

struct mx_arena_chunk;

struct mx_arena {
	struct mx_arena_chunk *head; /* current chunk; older ones chained */
	size_t total;                /* bytes held in all chunks */
	size_t cap;                  /* hard cap on `total` */
	size_t next_chunk;           /* size of the next chunk to allocate */
};

/* Initialises an empty arena that will hold at most `cap` bytes. Allocates
 * nothing until the first mx_arena_alloc(). */
void mx_arena_init(struct mx_arena *a, size_t cap);

/* Returns `n` bytes aligned to 16, or NULL when the cap would be passed or
 * malloc fails. The memory is uninitialised and lives until
 * mx_arena_free() or mx_arena_reset(). n == 0 returns a valid pointer. */
void *mx_arena_alloc(struct mx_arena *a, size_t n);

/* As mx_arena_alloc(), zero-filled; `count * size` is overflow-checked. */
void *mx_arena_calloc(struct mx_arena *a, size_t count, size_t size);

/* Copies `len` bytes of `src` into the arena and appends a NUL byte.
 * Returns NULL on cap or allocation failure. */
char *mx_arena_strndup(struct mx_arena *a, const char *src, size_t len);

/* Releases every chunk but keeps the arena usable (and its cap). */
void mx_arena_reset(struct mx_arena *a);

/* Releases every chunk. Accepts NULL. The arena may be re-initialised. */
void mx_arena_free(struct mx_arena *a);

#endif
