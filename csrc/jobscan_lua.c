/* core.job_outcomes(body): what the library needs from a job answer, read by jobscan.c
 * without decoding the whole answer into Lua tables. Sub-job fields come back as parallel
 * arrays (one table per field, not one per sub-job): 5 tables instead of 1000.
 * Per Lua state, one scratch userdata (the function's upvalue) holds the parse buffers,
 * so polling many answers reuses them. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "jobscan.h"
#include "jobscan_lua.h"

#define WHERE "cloud.core.job_outcomes"
#define STATE_MT "cloud.core.jobscan_state"
/* Buffers above this are freed after a call: one huge answer should not stay resident. */
#define KEEP_BYTES ((size_t)1 << 20)

static const char *const TOP_KEYS[JOBSCAN_NTOP] = {"status", "error_code", "fail_reason"};
static const char *const SUB_KEYS[JOBSCAN_NFIELDS] = {
    "sub_status", "sub_error_code", "sub_fail_reason", "server_id", "sub_errorcode_message"};

static int state_gc(lua_State *L) {
  jobscan_result *r = luaL_checkudata(L, 1, STATE_MT);
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

static int job_outcomes(lua_State *L) {
  jobscan_result *r = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TSTRING); /* not luaL_checkstring: a number is no answer */
  size_t n;
  const char *body = lua_tolstring(L, 1, &n); /* stays alive in slot 1 while we push */
  int rc = jobscan_parse(r, body, n);
  if (rc == JOBSCAN_OK && r->nsubs >= INT_MAX) rc = JOBSCAN_ENOMEM;
  if (rc == JOBSCAN_ENOMEM) {
    jobscan_shrink(r, 0);
    return luaL_error(L, WHERE ": out of memory");
  }
  if (rc != JOBSCAN_OK) {
    char msg[160];
    snprintf(msg, sizeof msg, "invalid job answer: %s at byte %zu", r->error, r->error_at + 1);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    jobscan_shrink(r, KEEP_BYTES);
    return 2;
  }
  /* A push may raise (memory): r is still owned by the userdata, so nothing leaks. */
  push_result(L, r, body);
  jobscan_shrink(r, KEEP_BYTES);
  return 1;
}

void jobscan_lua_push(lua_State *L) {
  jobscan_result *r = lua_newuserdata(L, sizeof *r); /* userdata first, then the buffers */
  jobscan_init(r);
  if (luaL_newmetatable(L, STATE_MT)) {
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, job_outcomes, 1);
}
