/* core.job_outcomes(body [, set, batch, ids, rule]): what the library needs from a job
 * answer (a string, or a cloud.core.body from the HTTP engine), read by
 * jobscan.c without decoding the whole answer into Lua tables. Sub-job fields come back as
 * parallel arrays (one table per field, not one per sub-job): 5 tables instead of 1000.
 * Given an idset, the job's batch and ids, and the ledger's rule, the sub-jobs that the
 * rule says stopped their server are applied to the set in C and only the rest come back,
 * with `missing` (see apply_outcomes): a thousand successes then cost Lua nothing. What
 * a status means is the rule's (Lua's, cloud.ledger): rule.ended, the set of job statuses
 * after which sub-jobs count; rule.stopped, the sub-job status that stops its server.
 * Per Lua state, one scratch userdata (the function's upvalue) holds the parse buffers,
 * so polling many answers reuses them. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "body_lua.h"
#include "class.h"
#include "compat.h"
#include "idset_lua.h"
#include "jobscan.h"
#include "jobscan_lua.h"
#include "result.h"

#define WHERE "cloud.core.job_outcomes"
#define STATE_MT "cloud.core.jobscan_state"
/* Buffers above this are freed after a call: one huge answer should not stay resident. */
#define KEEP_BYTES ((size_t)1 << 20)

static const char *const TOP_KEYS[JOBSCAN_NTOP] = {"status", "error_code", "fail_reason"};
static const char *const SUB_KEYS[JOBSCAN_NFIELDS] = {
    "sub_status", "sub_error_code", "sub_fail_reason", "server_id", "sub_errorcode_message"};

/* The scratch's __gc. */
static int jobscan_lua_scratch_gc(lua_State *L) {
  jobscan_result *r = result_checkudata(L, 1, STATE_MT, STATE_MT ":__gc", NULL);
  jobscan_free(r);
  return 0;
}

static void push_str(lua_State *L, const jobscan_result *r, const char *body, jobscan_str s) {
  lua_pushlstring(L, jobscan_ptr(r, body, s), s.len);
}

static void push_result(lua_State *L, const jobscan_result *r, const char *body) {
  lua_createtable(L, 0, JOBSCAN_NTOP + JOBSCAN_NFIELDS + 1);
  for (int k = 0; k < JOBSCAN_NTOP; k++) {
    if (!r->top[k].set) continue; /* nil, as a missing or null member reads in Lua */
    push_str(L, r, body, r->top[k]);
    lua_setfield(L, -2, TOP_KEYS[k]);
  }
  int n = (int)r->nsubs; /* checked against INT_MAX by the caller */
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, -2, "sub_jobs");
  for (int k = 0; k < JOBSCAN_NFIELDS; k++) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
      jobscan_str s = r->subs[i].f[k];
      if (s.set) push_str(L, r, body, s);
      else lua_pushboolean(L, 0); /* false keeps the array without holes */
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, SUB_KEYS[k]);
  }
}

static int str_is(const jobscan_result *r, const char *body, jobscan_str s, const char *want) {
  size_t n = strlen(want);
  return s.set && s.len == n && memcmp(jobscan_ptr(r, body, s), want, n) == 0;
}

/* Sets (on) or clears the state bits on the members named in the array at index t. */
static void mark_listed(lua_State *L, idset *set, int t, size_t n, unsigned bits, int on) {
  for (size_t k = 1; k <= n; k++) {
    lua_rawgeti(L, t, (lua_Integer)k);
    uint32_t i = idset_lua_find(L, set, -1);
    lua_pop(L, 1);
    if (i == IDSET_NONE) continue;
    if (on) set->state[i] |= (unsigned char)bits;
    else set->state[i] &= (unsigned char)~bits;
  }
}

/* Member i is open and one of the batch's. */
static int open_member(const idset *set, const idset_batch *bt, uint32_t i) {
  unsigned st = set->state[i];
  if ((st & IDSET_OUTCOME) != IDSET_OPEN) return 0;
  return bt->first ? i + 1 >= bt->first && i + 1 <= bt->last : (st & IDSET_IN_JOB) != 0;
}

/* ... and has no sub-job in this answer so far. */
static int unseen_member(const idset *set, const idset_batch *bt, uint32_t i) {
  return !(set->state[i] & IDSET_SEEN) && open_member(set, bt, i);
}

/* An ended job's sub-jobs against the set: a sub-job with status `stopped` of an open
 * member of batch bt stops it in the set. The first other sub-job of each such member is kept (compacted
 * to the front of r->subs) for Lua to judge. Pushes `missing`: the batch's open members
 * with no sub-job at all. One lookup per sub-job; a batch of positions (the first
 * submission) needs no other, a list batch (`ids`, the array at index t) a few more.
 * `all` is the set's ids array. */
static void apply_outcomes(lua_State *L, jobscan_result *r, const char *body, idset *set,
                           const idset_batch *bt, int t, int all, const char *stopped) {
  size_t n = bt->first ? bt->last - bt->first + 1 : lua_rawlen(L, t);
  if (!bt->first) mark_listed(L, set, t, n, IDSET_IN_JOB, 1);
  size_t matched = 0, kept = 0;
  for (size_t k = 0; k < r->nsubs; k++) {
    jobscan_str id = r->subs[k].f[JOBSCAN_SERVER_ID];
    if (!id.set) continue;
    const char *p = jobscan_ptr(r, body, id);
    /* Answers list sub-jobs in the order the ids were sent: try that member first. */
    uint32_t i = bt->first && k < n ? bt->first - 1 + (uint32_t)k : IDSET_NONE;
    size_t len = 0;
    const char *guess = i != IDSET_NONE ? set->key(set->ctx, i, &len) : NULL;
    if (!guess || len != id.len || memcmp(guess, p, len) != 0) i = idset_find(set, p, id.len);
    if (i == IDSET_NONE || !open_member(set, bt, i)) continue;
    int seen = set->state[i] & IDSET_SEEN;
    matched += !seen;
    if (str_is(r, body, r->subs[k].f[JOBSCAN_STATUS], stopped)) {
      idset_settle(set, i, IDSET_STOPPED); /* even after another sub-job of it: it stopped */
    } else if (!seen) {
      set->state[i] |= IDSET_SEEN;
      r->subs[kept++] = r->subs[k];
    }
  }
  r->nsubs = kept;
  lua_newtable(L);
  lua_Integer m = 0;
  if (matched < n && bt->first) {
    for (uint32_t i = bt->first - 1; i < bt->last; i++) {
      if (!unseen_member(set, bt, i)) continue;
      lua_rawgeti(L, all, (lua_Integer)i + 1);
      lua_rawseti(L, -2, ++m);
    }
  } else if (matched < n) {
    for (size_t k = 1; k <= n; k++) {
      lua_rawgeti(L, t, (lua_Integer)k);
      uint32_t i = idset_lua_find(L, set, -1);
      if (i != IDSET_NONE && unseen_member(set, bt, i)) {
        set->state[i] |= IDSET_SEEN; /* listed twice: once in missing */
        lua_rawseti(L, -2, ++m);
      } else {
        lua_pop(L, 1);
      }
    }
  }
  /* The scratch marks go, over all of the batch's members: those kept and those missing. */
  const unsigned char scratch = (unsigned char)~(IDSET_SEEN | IDSET_IN_JOB);
  if (bt->first) {
    for (uint32_t i = bt->first - 1; i < bt->last; i++) set->state[i] &= scratch;
  } else {
    mark_listed(L, set, t, n, IDSET_SEEN | IDSET_IN_JOB, 0);
  }
}

/* core.job_outcomes(answer [, set, batch, ids, rule]) -> job_answer, or nil and why the
 * answer is no job answer. */
static int jobscan_lua_job_outcomes(lua_State *L) {
  jobscan_result *r = lua_touserdata(L, lua_upvalueindex(1));
  size_t n;
  /* Not a string check: a number is no answer. A cloud.core.body is read in place. */
  const char *body = body_lua_bytes(L, 1, &n); /* stays alive in slot 1 while we push */
  if (!body)
    return result_argerror(L, WHERE, "answer", "must be a string or cloud.core.body, not %s",
                           result_typename(L, 1));
  idset *set = NULL;
  const idset_batch *batch = NULL;
  const char *stopped = NULL;
  if (!lua_isnoneornil(L, 2)) {
    result_checktable(L, 4, WHERE, "ids");
    result_checktable(L, 5, WHERE, "rule");
    lua_settop(L, 5);
    set = idset_lua_bind(L, 2, WHERE, "set"); /* pushes the set's ids array: slot 6 */
    batch = idset_lua_checkbatch(L, set, 3, WHERE);
    lua_getfield(L, 5, "ended"); /* slot 7 */
    if (!lua_istable(L, 7)) return result_argerror(L, WHERE, "rule.ended", "must be a set of job statuses");
    lua_getfield(L, 5, "stopped"); /* slot 8: the rule table keeps the string alive */
    stopped = lua_type(L, 8) == LUA_TSTRING ? lua_tostring(L, 8) : NULL;
    if (!stopped) return result_argerror(L, WHERE, "rule.stopped", "must be a sub-job status");
  }
  int rc = jobscan_parse(r, body, n);
  if (rc == JOBSCAN_OK && r->nsubs >= INT_MAX) rc = JOBSCAN_ENOMEM;
  if (rc == JOBSCAN_ENOMEM) {
    jobscan_shrink(r, 0);
    return luaL_error(L, WHERE ": out of memory");
  }
  if (rc != JOBSCAN_OK) {
    char at[32]; /* lua_pushfstring has no size_t format */
    snprintf(at, sizeof at, "%zu", r->error_at + 1);
    jobscan_shrink(r, KEEP_BYTES); /* r->error is a literal: it outlives the shrink */
    return result_fail(L, 0, "invalid job answer: %s at byte %s", r->error, at);
  }
  if (set) {
    /* Sub-jobs count once the job has ended; a running job's answer brings none back. */
    int ended = 0;
    if (r->top[JOBSCAN_STATUS].set) {
      jobscan_str st = r->top[JOBSCAN_STATUS];
      lua_pushlstring(L, jobscan_ptr(r, body, st), st.len);
      lua_rawget(L, 7);
      ended = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    if (ended) {
      apply_outcomes(L, r, body, set, batch, 4, 6, stopped);
    } else {
      r->nsubs = 0;
      lua_newtable(L);
    }
  }
  /* A push may raise (memory): r is still owned by the userdata, so nothing leaks. */
  push_result(L, r, body);
  if (set) {
    lua_insert(L, -2);
    lua_setfield(L, -2, "missing");
  }
  jobscan_shrink(r, KEEP_BYTES);
  return 1;
}

void jobscan_lua_register(lua_State *L, int core) {
  static const luaL_Reg meta[] = {{"__gc", jobscan_lua_scratch_gc}, {NULL, NULL}};
  static const luaL_Reg none[] = {{NULL, NULL}};
  class_metatable(L, STATE_MT, meta, none);
  lua_pop(L, 1);
  jobscan_result *r = lua_newuserdata(L, sizeof *r); /* userdata first, then the buffers */
  jobscan_init(r);
  luaL_setmetatable(L, STATE_MT);
  lua_pushcclosure(L, jobscan_lua_job_outcomes, 1);
  lua_setfield(L, core, "job_outcomes");
}
