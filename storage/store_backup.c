/*
 * store_backup.c - `mixd backup DIR`: a consistent, compacted copy of a
 * store, taken while a mixd may be writing to it (see store.h).
 *
 * The copy is LMDB's own (mdb_env_copy2 with MDB_CP_COMPACT): it runs in
 * one read transaction, so it is a snapshot of the last commit, and it
 * writes only the pages in use. The source is opened read-only, with
 * LMDB's lock file (never MDB_NOLOCK): the running mixd and this process
 * then share the reader table, so the writer does not reuse the pages the
 * snapshot still reads. The map of a running mixd may have grown since
 * this process mapped the file; LMDB then answers MDB_MAP_RESIZED and the
 * copy adopts the new size and starts over. The schema version is checked
 * first: a store of another version is refused, never copied as if it
 * were this one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/error.h"
#include "span_record.h"
#include "store_int.h"

#define RESIZE_RETRIES 16

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Creates `dir` when missing; MX_EINVAL when it holds anything. */
static int empty_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		seterr(err, errlen, "backup: cannot create %s: %s", dir, strerror(errno));
		return MX_EIO;
	}
	DIR *d = opendir(dir);
	if (!d) {
		seterr(err, errlen, "backup: cannot open %s: %s", dir, strerror(errno));
		return MX_EIO;
	}
	struct dirent *e;
	int rc = MX_OK;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			seterr(err, errlen, "backup: %s is not empty", dir);
			rc = MX_EINVAL;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* A read transaction, adopting a map the writer grew meanwhile. */
static int begin_read(MDB_env *env, MDB_txn **txn)
{
	int rc = MDB_MAP_RESIZED;
	for (int i = 0; i < RESIZE_RETRIES && rc == MDB_MAP_RESIZED; i++) {
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, txn);
		if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(env, 0))
			break;
	}
	return rc;
}

/* Reads the schema version of an open environment (0 when missing). */
static int schema_of(MDB_env *env, uint32_t *ver)
{
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 14, (void *)(uintptr_t)"schema_version" }, v;
	*ver = 0;
	int rc = begin_read(env, &txn);
	if (rc)
		return rc;
	rc = mdb_dbi_open(txn, MX_DB_META, 0, &dbi);
	if (rc == MDB_SUCCESS)
		rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == 4)
		*ver = mx_get_le32(v.mv_data);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Fills the counts of the copy at `dir`. */
static int describe(const char *dir, struct mx_store_backup_info *info)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	MDB_stat ms;
	MDB_val k, v;
	int rc;
	if ((rc = mdb_env_create(&env)))
		return rc;
	if ((rc = mdb_env_set_maxdbs(env, 32)) ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644)) ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
		goto out;
	if (mdb_dbi_open(txn, MX_DB_TRACE_IDX, 0, &dbi) == MDB_SUCCESS &&
	    mdb_stat(txn, dbi, &ms) == MDB_SUCCESS)
		info->trace_segments = ms.ms_entries;
	if (mdb_dbi_open(txn, MX_DB_SPANS, 0, &dbi) == MDB_SUCCESS &&
	    mdb_stat(txn, dbi, &ms) == MDB_SUCCESS) {
		info->spans = ms.ms_entries;
		if ((rc = mdb_cursor_open(txn, dbi, &cur)))
			goto out;
		if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == MDB_SUCCESS && v.mv_size >= 9)
			info->oldest_arrival_ns = mx_get_le64((const uint8_t *)v.mv_data + 1);
		if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == MDB_SUCCESS && v.mv_size >= 9)
			info->newest_arrival_ns = mx_get_le64((const uint8_t *)v.mv_data + 1);
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

int mx_store_backup(const char *path, const char *dir,
		    struct mx_store_backup_info *info, char *err, size_t errlen)
{
	MDB_env *env = NULL;
	char file[4096];
	struct stat sb;
	uint32_t ver = 0;
	int rc = MX_OK, mrc;

	if (!path || !dir || !info || !*path || !*dir)
		return MX_EINVAL;
	memset(info, 0, sizeof(*info));
	if (snprintf(file, sizeof(file), "%s/data.mdb", path) >= (int)sizeof(file) ||
	    stat(file, &sb) != 0) {
		seterr(err, errlen, "backup: no store at %s", path);
		return MX_EIO;
	}
	if ((rc = empty_dir(dir, err, errlen)) != MX_OK)
		return rc;
	if ((mrc = mdb_env_create(&env)) || (mrc = mdb_env_set_maxdbs(env, 32)) ||
	    (mrc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD,
				0644)) ||
	    (mrc = schema_of(env, &ver))) {
		seterr(err, errlen, "backup: cannot read the store at %s: %s", path,
		       mdb_strerror(mrc));
		rc = MX_ESTORE;
		goto out;
	}
	info->schema_version = ver;
	if (ver != MX_STORE_SCHEMA_VERSION) {
		seterr(err, errlen,
		       "backup: store %s has schema version %u; this mixd reads "
		       "version %u (use the mixd that wrote it)",
		       path, ver, MX_STORE_SCHEMA_VERSION);
		rc = MX_ESCHEMA;
		goto out;
	}
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	mrc = MDB_MAP_RESIZED;
	for (int i = 0; i < RESIZE_RETRIES && mrc == MDB_MAP_RESIZED; i++) {
		mrc = mdb_env_copy2(env, dir, MDB_CP_COMPACT);
		if (mrc == MDB_MAP_RESIZED) {
			unlink(file); /* the copy starts over */
			if (mdb_env_set_mapsize(env, 0))
				break;
		}
	}
	if (mrc) {
		unlink(file);
		seterr(err, errlen, "backup: copying %s to %s failed: %s", path, dir,
		       mdb_strerror(mrc));
		rc = mrc > 0 ? MX_EIO : MX_ESTORE;
		goto out;
	}
	if (stat(file, &sb) == 0)
		info->bytes = (uint64_t)sb.st_size;
	if ((mrc = describe(dir, info))) {
		seterr(err, errlen, "backup: the copy in %s does not open: %s", dir,
		       mdb_strerror(mrc));
		rc = MX_ESTORE;
	}
out:
	if (env)
		mdb_env_close(env);
	return rc;
}
