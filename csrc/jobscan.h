/* Reading a job answer (docs/reference/ECS-BMS.md "Jobs") without building it in Lua:
 * a strict JSON parser that keeps only the few strings the library needs and skips
 * everything else without allocating. Pure C over buffers, so it can be fuzzed alone. */
#ifndef CLOUD_JOBSCAN_H
#define CLOUD_JOBSCAN_H

#include <stddef.h>
#include "buf.h"

/* Arrays and objects nested deeper than this are refused, like cloud.json's cjson. */
#define JOBSCAN_MAX_DEPTH 64

/* Field numbers: the first three exist at the top level and in each sub-job; the last
 * two live in a sub-job's "entities". */
enum { JOBSCAN_STATUS, JOBSCAN_ERROR_CODE, JOBSCAN_FAIL_REASON, JOBSCAN_SERVER_ID,
       JOBSCAN_ERRORCODE_MESSAGE, JOBSCAN_NFIELDS, JOBSCAN_NTOP = JOBSCAN_SERVER_ID };

enum { JOBSCAN_OK, JOBSCAN_EINVALID, JOBSCAN_ENOMEM };

/* A string value found in the answer. Strings without escapes are not copied: they are
 * offsets into the input. Unescaped ones are offsets into the result's arena. */
typedef struct {
  size_t off;
  size_t len;
  unsigned char set;      /* 0: missing, null, or not a string */
  unsigned char in_arena; /* 1: off is into arena, else into the input */
} jobscan_str;

typedef struct {
  jobscan_str f[JOBSCAN_NFIELDS];
  unsigned char ids_disagree; /* entities as an array naming two servers: no server_id */
} jobscan_sub;

typedef struct {
  jobscan_str top[JOBSCAN_NTOP]; /* status, error_code, fail_reason */
  jobscan_sub *subs;             /* entities.sub_jobs, one per array element */
  size_t nsubs;
  size_t subs_cap;
  cbuf arena;        /* unescaped strings; never more bytes than the input */
  const char *error; /* on JOBSCAN_EINVALID: a static reason ... */
  size_t error_at;   /* ... and the 0-based input offset it applies to (n: the end) */
} jobscan_result;

void jobscan_init(jobscan_result *r);
void jobscan_free(jobscan_result *r);
/* Frees buffers whose capacity passed `keep` bytes, so one huge answer is not kept. */
void jobscan_shrink(jobscan_result *r, size_t keep);

/* Parses p[0..n). The top level must be an object; other members are validated and
 * skipped. Duplicate members: the last one wins, as with cjson. Reuses r's buffers.
 * Returns JOBSCAN_OK, JOBSCAN_EINVALID (r->error, r->error_at) or JOBSCAN_ENOMEM. */
int jobscan_parse(jobscan_result *r, const char *p, size_t n);

/* The bytes of s: in the arena, or in the input given to jobscan_parse. */
static inline const char *jobscan_ptr(const jobscan_result *r, const char *input, jobscan_str s) {
  return s.in_arena ? r->arena.data + s.off : input + s.off;
}

#endif
