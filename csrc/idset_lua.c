/* core.idset(ids, checked): the ids of a stop as a C set with an outcome per id (idset.c).
 * The set's user value is the Lua array of its distinct ids, in order: the caller's own
 * array when it has no repeats, else a new one. The set reads ids from it by index, so
 * no id is copied. Policy (what an outcome means, what to send again) stays in Lua. */
#include <stdio.h>
#include <string.h>

#include "bytescan.h"
#include "class.h"
#include "compat.h"
#include "idset_lua.h"
#include "utf8.h"

#define IDSET_MT "cloud.core.idset"
#define WHERE "cloud.core.idset"

typedef struct {
  idset set;
  lua_State *L; /* valid during a call only: where the ids array sits, at stack index ids */
  int ids;
} idset_ud;

static const char *const OUTCOMES[IDSET_NSTATES + 1] = {"open", "stopped", "failed", "already", NULL};

static const char *key_at(void *ctx, uint32_t index, size_t *len) {
  idset_ud *u = ctx;
  lua_rawgeti(u->L, u->ids, (lua_Integer)index + 1);
  /* The array keeps the string alive after the pop; a value the caller swapped for
   * something else just never matches. */
  const char *p = lua_type(u->L, -1) == LUA_TSTRING ? lua_tolstring(u->L, -1, len) : NULL;
  lua_pop(u->L, 1);
  return p;
}

idset *idset_lua_bind(lua_State *L, int i) {
  idset_ud *u = luaL_checkudata(L, i, IDSET_MT);
  if (!u->set.slots) luaL_error(L, WHERE ": the set is closed");
  compat_getuservalue(L, i);
  u->L = L;
  u->ids = lua_gettop(L);
  return &u->set;
}

uint32_t idset_lua_find(lua_State *L, const idset *s, int i) {
  if (lua_type(L, i) != LUA_TSTRING) return IDSET_NONE;
  size_t n;
  const char *p = lua_tolstring(L, i, &n);
  return idset_find(s, p, n);
}

const idset_batch *idset_lua_checkbatch(lua_State *L, const idset *s, int i) {
  lua_Integer number = compat_checkinteger(L, i);
  const idset_batch *b = number >= 1 && number <= (lua_Integer)s->nbatches ? idset_get_batch(s, (uint32_t)number) : NULL;
  if (!b) luaL_argerror(L, i, "not a batch of this set");
  return b;
}

/* Where the keys of the array at index t go wrong: pushes a message, or returns 0. */
static int bad_keys(lua_State *L, int t, size_t n) {
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    long long k;
    count++;
    if (lua_type(L, -1) != LUA_TNUMBER || !compat_tointegral(L, -1, &k) || k < 1 || (size_t)k > n) {
      const char *name = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER
                             ? lua_tostring(L, -1) /* a copy: the key itself is not converted */
                             : luaL_typename(L, -1);
      lua_pushfstring(L, "option 'ids' must be an array (found key %s)", name);
      return 1;
    }
  }
  if (count != n) {
    lua_pushliteral(L, "option 'ids' must be an array without holes");
    return 1;
  }
  return 0;
}

/* Ids are UUIDs (36 bytes); this is generous, and keeps a request body from growing by
 * whatever a caller's id holds. */
#define ID_MAX_BYTES 256

/* What p[0..n) holds, in one pass: CONTROL for a control byte (below 0x20, or DEL),
 * else NON_ASCII for a byte from 0x80 (its UTF-8 is checked apart), else 0. */
enum { NON_ASCII = 1, CONTROL = 2 };
static int scan_bytes(const char *p, size_t n) {
  uint64_t non_ascii = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = bytescan_load(p + i);
    if (bytescan_below(w, 0x20) | bytescan_equal(w, 0x7f)) return CONTROL;
    non_ascii |= w & BYTESCAN_HIGHS;
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c == 0x7f) return CONTROL;
    non_ascii |= c & 0x80;
  }
  return non_ascii ? NON_ASCII : 0;
}

/* Why a caller's id is refused (the end of "ids[i] ..."), or NULL when it is a valid id. */
static const char *bad_id(const char *p, size_t len) {
  static const char control[] = "must be a non-empty string without control characters";
  if (len == 0) return control;
  if (len > ID_MAX_BYTES) return "is longer than 256 bytes";
  int kind = scan_bytes(p, len);
  if (kind == CONTROL) return control;
  if (kind == NON_ASCII && !utf8_valid(p, len)) return "is not valid UTF-8";
  return NULL;
}

/* A caller's ids, checked and added in one pass in the common case: a table whose
 * traversal yields keys 1..n in order (one filled in order keeps its items in the array
 * part, which is traversed first), each a valid id, none repeated. Anything else returns
 * 0, and the general path starts over. (Unchecked ids are read faster by index.) */
static int fill_checked(lua_State *L, idset *s, size_t n) {
  size_t expect = 1;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    long long k;
    size_t len;
    int added = 0;
    if (expect <= n && lua_type(L, -2) == LUA_TNUMBER && compat_tointegral(L, -2, &k) && k == (long long)expect &&
        lua_type(L, -1) == LUA_TSTRING) {
      const char *p = lua_tolstring(L, -1, &len);
      if (!bad_id(p, len)) idset_add(s, p, len, &added);
    }
    lua_pop(L, 1);
    if (!added) {
      lua_pop(L, 1);
      return 0;
    }
    expect++;
  }
  return expect == n + 1;
}

/* core.idset(ids, checked) -> set | nil, message. checked: the ids come from the caller
 * and must be non-empty strings of valid UTF-8, at most ID_MAX_BYTES long and without
 * control characters, in an array without holes or other keys; else any strings will do
 * (ids read from the cloud). */
static int idset_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int checked = lua_toboolean(L, 2);
  lua_settop(L, 1);
  size_t n = lua_rawlen(L, 1);
  if (n > IDSET_MAX) {
    lua_pushnil(L);
    lua_pushliteral(L, "option 'ids' has more ids than a set can hold");
    return 2;
  }

  idset_ud *u = lua_newuserdata(L, sizeof *u); /* userdata first, then the memory: slot 2 */
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, IDSET_MT);
  if (idset_init(&u->set, (uint32_t)n, key_at, u) != 0) return luaL_error(L, WHERE ": out of memory");
  u->L = L;
  u->ids = 1; /* the caller's array, until a repeat makes a distinct copy at slot 3 */
  if (checked && n > 0 && fill_checked(L, &u->set, n)) goto done;

  lua_settop(L, 2);
  idset_clear(&u->set);
  if (checked && bad_keys(L, 1, n)) {
    idset_free(&u->set);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (checked && n == 0) {
    idset_free(&u->set);
    lua_pushnil(L);
    lua_pushliteral(L, "option 'ids' is empty: nothing to stop");
    return 2;
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    size_t len = 0;
    const char *p = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    const char *why = !p ? (checked ? "must be a non-empty string without control characters" : "is not a string")
                         : checked ? bad_id(p, len) : NULL;
    if (why) {
      idset_free(&u->set);
      lua_pushnil(L);
      lua_pushfstring(L, "ids[%d] %s", (int)i, why);
      return 2;
    }
    int added;
    uint32_t at = idset_add(&u->set, p, len, &added);
    if (!added && u->ids == 1 && at != IDSET_NONE) {
      /* The first repeat: from here on the set reads a distinct copy. */
      lua_createtable(L, (int)(n - 1 < 1 ? 1 : n - 1), 0);
      for (uint32_t j = 1; j < i; j++) {
        lua_rawgeti(L, 1, (lua_Integer)j);
        lua_rawseti(L, -2, (lua_Integer)j);
      }
      lua_replace(L, 3); /* slot 3 held the id; it stays alive in the caller's array */
      u->ids = 3;
      continue;
    }
    if (added && u->ids == 3) lua_rawseti(L, 3, (lua_Integer)u->set.n);
    else lua_pop(L, 1);
  }
done:
  lua_pushvalue(L, u->ids);
  compat_setuservalue(L, 2);
  lua_settop(L, 2);
  return 1;
}

static idset_ud *check_ud(lua_State *L) {
  idset_lua_bind(L, 1); /* checks, and pushes the ids array */
  return lua_touserdata(L, 1);
}

static unsigned check_outcome(lua_State *L, int i) {
  return (unsigned)luaL_checkoption(L, i, NULL, OUTCOMES);
}

/* set:ids() -> the distinct ids, in order (do not change it while the set is in use) */
static int m_ids(lua_State *L) {
  check_ud(L);
  return 1;
}

/* set:size() -> the number of distinct ids */
static int m_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_ud(L)->set.n);
  return 1;
}

/* set:state(id) -> "open" | "stopped" | "failed" | "already", or nil when id is not in the set */
static int m_state(lua_State *L) {
  idset *s = &check_ud(L)->set;
  uint32_t i = idset_lua_find(L, s, 2);
  if (i == IDSET_NONE) return 0;
  lua_pushstring(L, OUTCOMES[s->state[i] & IDSET_OUTCOME]);
  return 1;
}

/* set:mark(id, "stopped" | "failed" | "already") -> true when the id was open (the first
 * outcome stands) */
static int m_mark(lua_State *L) {
  idset *s = &check_ud(L)->set;
  unsigned outcome = check_outcome(L, 3);
  if (outcome == IDSET_OPEN) return luaL_argerror(L, 3, "an outcome is stopped, failed or already");
  uint32_t i = idset_lua_find(L, s, 2);
  lua_pushboolean(L, i != IDSET_NONE && idset_settle(s, i, outcome));
  return 1;
}

/* set:mark_all(ids, "stopped" | "failed" | "already" [, batch]) -> how many of the array's ids were
 * open. batch: the number set:batch gave with these very ids; a range of positions is
 * then marked by position, with no lookups. */
static int m_mark_all(lua_State *L) {
  lua_settop(L, 4); /* the batch stays at 4, above it goes the ids array (check_ud) */
  idset *s = &check_ud(L)->set;
  luaL_checktype(L, 2, LUA_TTABLE);
  unsigned outcome = check_outcome(L, 3);
  if (outcome == IDSET_OPEN) return luaL_argerror(L, 3, "an outcome is stopped, failed or already");
  const idset_batch *b = lua_isnoneornil(L, 4) ? NULL : idset_lua_checkbatch(L, s, 4);
  lua_Integer changed = 0;
  if (b && b->first) {
    for (uint32_t i = b->first - 1; i < b->last; i++) changed += idset_settle(s, i, outcome);
    lua_pushinteger(L, changed);
    return 1;
  }
  size_t n = lua_rawlen(L, 2);
  for (size_t k = 1; k <= n; k++) {
    lua_rawgeti(L, 2, (lua_Integer)k);
    uint32_t i = idset_lua_find(L, s, -1);
    lua_pop(L, 1);
    if (i != IDSET_NONE) changed += idset_settle(s, i, outcome);
  }
  lua_pushinteger(L, changed);
  return 1;
}

/* set:batch(first, last) -> a new array of ids[first..last], and the number of this new
 * batch of them; set:batch(ids) -> ids, and the number of a new batch of those of them in
 * the set. A job's answer counts for the ids of its batch (core.job_outcomes). */
static int m_batch(lua_State *L) {
  idset_ud *u = check_ud(L);
  idset *s = &u->set;
  uint32_t b;
  if (lua_type(L, 2) == LUA_TTABLE) {
    b = idset_new_batch(s, 0, 0);
    lua_pushvalue(L, 2);
  } else {
    lua_Integer first = compat_checkinteger(L, 2), last = compat_checkinteger(L, 3);
    luaL_argcheck(L, first >= 1 && first <= last, 2, "out of range");
    luaL_argcheck(L, last <= (lua_Integer)s->n, 3, "out of range");
    b = idset_new_batch(s, (uint32_t)first, (uint32_t)last);
    lua_createtable(L, (int)(last - first + 1), 0);
    for (lua_Integer i = first; i <= last; i++) {
      lua_rawgeti(L, u->ids, i);
      lua_rawseti(L, -2, i - first + 1);
    }
  }
  if (b == 0) return luaL_error(L, WHERE ": out of memory");
  lua_pushinteger(L, (lua_Integer)b);
  return 2;
}

/* set:counts() -> open, stopped, failed, already */
static int m_counts(lua_State *L) {
  idset *s = &check_ud(L)->set;
  for (int k = 0; k < IDSET_NSTATES; k++) lua_pushinteger(L, (lua_Integer)s->count[k]);
  return IDSET_NSTATES;
}

/* set:list(outcome) -> a new array of the ids with that outcome, in order */
static int m_list(lua_State *L) {
  idset_ud *u = check_ud(L);
  unsigned outcome = check_outcome(L, 2);
  idset *s = &u->set;
  uint32_t want = s->count[outcome];
  lua_createtable(L, (int)want, 0); /* want <= IDSET_MAX */
  lua_Integer k = 0;
  for (uint32_t i = 0; i < s->n && (uint32_t)k < want; i++) {
    if ((s->state[i] & IDSET_OUTCOME) != outcome) continue;
    lua_rawgeti(L, u->ids, (lua_Integer)i + 1);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static int m_close(lua_State *L) {
  idset_ud *u = luaL_checkudata(L, 1, IDSET_MT);
  idset_free(&u->set);
  return 0;
}

static int m_tostring(lua_State *L) {
  idset_ud *u = luaL_checkudata(L, 1, IDSET_MT);
  if (!u->set.slots) lua_pushliteral(L, "cloud.core.idset (closed)");
  else lua_pushfstring(L, "cloud.core.idset (%d ids)", (int)u->set.n);
  return 1;
}

void idset_lua_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"ids", m_ids},     {"size", m_size},   {"state", m_state},
                                     {"mark", m_mark},   {"mark_all", m_mark_all}, {"batch", m_batch},
                                     {"counts", m_counts}, {"list", m_list},
                                     {"close", m_close}, {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", m_close}, {"__tostring", m_tostring}, {NULL, NULL}};
  class_metatable(L, IDSET_MT, meta, methods);
  lua_pop(L, 1);
  lua_pushcfunction(L, idset_new);
}
