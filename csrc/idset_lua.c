/* core.idset(ids) and core.checked_idset(ids): the ids of a stop as a C set with an outcome
 * per id (idset.c); the first takes any strings (ids the cloud listed), the second checks a
 * caller's ids and raises naming the one at fault. The set's user value is the Lua array
 * of its distinct ids, in order: the caller's own array when it has no repeats, else a new
 * one. The set reads ids from it by index, so no id is copied. Policy (what an outcome
 * means, what to send again) stays in Lua. */
#include <stdio.h>
#include <string.h>

#include "bytescan.h"
#include "class.h"
#include "compat.h"
#include "idset_lua.h"
#include "result.h"
#include "utf8.h"

#define IDSET_MT "cloud.core.idset"
/* The name of a method in its errors: METHOD("mark") is "cloud.core.idset:mark". */
#define METHOD(name) IDSET_MT ":" name

typedef struct {
  idset set;
  lua_State *L; /* valid during a call only: where the ids array sits, at stack index ids */
  int ids;
} idset_ud;

static const char *key_at(void *ctx, uint32_t index, size_t *len) {
  idset_ud *u = ctx;
  lua_rawgeti(u->L, u->ids, (lua_Integer)index + 1);
  /* The array keeps the string alive after the pop; a value the caller swapped for
   * something else just never matches. */
  const char *p = lua_type(u->L, -1) == LUA_TSTRING ? lua_tolstring(u->L, -1, len) : NULL;
  lua_pop(u->L, 1);
  return p;
}

idset *idset_lua_bind(lua_State *L, int i, const char *where, const char *field) {
  idset_ud *u = result_checkudata(L, i, IDSET_MT, where, field);
  if (!u->set.slots) result_argerror(L, where, field, field ? "is a closed set" : "the set is closed");
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

const idset_batch *idset_lua_checkbatch(lua_State *L, const idset *s, int i, const char *where) {
  long long number = result_checkwhole(L, i, where, "batch");
  const idset_batch *b =
      number >= 1 && number <= (long long)s->nbatches ? idset_get_batch(s, (uint32_t)number) : NULL;
  if (!b) result_argerror(L, where, "batch", "is not a batch of this set");
  return b;
}

/* Where the keys of the array at index t go wrong: pushes what is wrong with option 'ids'
 * (the end of "option 'ids' ..."), or returns 0. */
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
      lua_pushfstring(L, "must be an array (found key %s)", name);
      return 1;
    }
  }
  if (count != n) {
    lua_pushliteral(L, "must be an array without holes");
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

/* The set of the ids at 1, read into the userdata at 3 (made here); `where` (slot 2, kept
 * alive there) names the call in a refusal. checked: the ids come from the caller and must
 * be non-empty strings of valid UTF-8, at most ID_MAX_BYTES long and without control
 * characters, in an array without holes or other keys; else any strings will do (ids
 * read from the cloud). A refusal raises the argument error naming "ids" or "ids[3]". */
static int new_set(lua_State *L, int checked, const char *where) {
  if (!lua_isnoneornil(L, 2)) where = result_checkstring(L, 2, where, "where", NULL);
  result_checktable(L, 1, where, "ids");
  lua_settop(L, 2);
  size_t n = lua_rawlen(L, 1);
  if (n > IDSET_MAX) return result_argerror(L, where, "ids", "has more ids than a set can hold");

  idset_ud *u = lua_newuserdata(L, sizeof *u); /* userdata first, then the memory: slot 3 */
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, IDSET_MT);
  if (idset_init(&u->set, (uint32_t)n, key_at, u) != 0) return luaL_error(L, "%s: out of memory", where);
  u->L = L;
  u->ids = 1; /* the caller's array, until a repeat makes a distinct copy at slot 4 */
  if (checked && n > 0 && fill_checked(L, &u->set, n)) goto done;

  lua_settop(L, 3);
  idset_clear(&u->set);
  if (checked && bad_keys(L, 1, n)) {
    idset_free(&u->set);
    return result_argerror(L, where, "ids", "%s", lua_tostring(L, -1));
  }
  if (checked && n == 0) {
    idset_free(&u->set);
    return result_argerror(L, where, "ids", "is empty: nothing to stop");
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    size_t len = 0;
    const char *p = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    const char *why = !p ? (checked ? "must be a non-empty string without control characters" : "is not a string")
                         : checked ? bad_id(p, len) : NULL;
    if (why) {
      idset_free(&u->set);
      char field[32];
      snprintf(field, sizeof field, "ids[%lu]", (unsigned long)i);
      return result_argerror(L, where, field, "%s", why);
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
      lua_replace(L, 4); /* slot 4 held the id; it stays alive in the caller's array */
      u->ids = 4;
      continue;
    }
    if (added && u->ids == 4) lua_rawseti(L, 4, (lua_Integer)u->set.n);
    else lua_pop(L, 1);
  }
done:
  lua_pushvalue(L, u->ids);
  compat_setuservalue(L, 3);
  lua_settop(L, 3);
  return 1;
}

/* core.idset(ids [, where]) -> set: any strings (ids the cloud listed). */
static int idset_lua_idset(lua_State *L) { return new_set(L, 0, "cloud.core.idset"); }

/* core.checked_idset(ids [, where]) -> set: a caller's ids, checked. */
static int idset_lua_checked_idset(lua_State *L) { return new_set(L, 1, "cloud.core.checked_idset"); }

/* Pushes member `i` (0-based) from the set's ids array and returns 0; or, when the array
 * no longer holds it there, returns result_fail's nil and message instead: the caller
 * changed the array (documented as forbidden) while the set was in use, and the ledger,
 * which knows the call and the jobs accepted so far, raises it with them. The set holds
 * the ids' number and finds each id again by its bytes, so a removed, replaced or moved
 * id, or a grown or shrunk array, is noticed rather than read as another id, or as none. */
static int push_member(lua_State *L, idset_ud *u, uint32_t i) {
  if (lua_rawlen(L, u->ids) != (size_t)u->set.n)
    return result_fail(L, 0, "the ids array changed while in use: it holds %d ids, not %d",
                       (int)lua_rawlen(L, u->ids), (int)u->set.n);
  lua_rawgeti(L, u->ids, (lua_Integer)i + 1);
  if (idset_lua_find(L, &u->set, -1) != i) {
    lua_pop(L, 1);
    return result_fail(L, 0, "the ids array changed while in use: ids[%d] is not the id it was", (int)i + 1);
  }
  return 0;
}

/* The open set a method was called on; pushes its ids array. */
static idset_ud *check_ud(lua_State *L, const char *where) {
  idset_lua_bind(L, 1, where, NULL);
  return lua_touserdata(L, 1);
}

static const char *const OUTCOMES[IDSET_NSTATES + 1] = {"open", "stopped", "failed", "already", NULL};

/* The outcome named at i; "open" only when `open` allows it (set:list; set:mark takes an
 * outcome an id settles to). */
static unsigned check_outcome(lua_State *L, int i, const char *where, int open) {
  const char *name = result_checkstring(L, i, where, "outcome", NULL);
  for (unsigned k = open ? IDSET_OPEN : IDSET_STOPPED; k < IDSET_NSTATES; k++)
    if (strcmp(name, OUTCOMES[k]) == 0) return k;
  return (unsigned)result_argerror(L, where, "outcome", "must be %s\"stopped\", \"failed\" or \"already\"",
                                   open ? "\"open\", " : "");
}

/* set:ids() -> the distinct ids, in order (do not change it while the set is in use) */
static int idset_lua_ids(lua_State *L) {
  check_ud(L, METHOD("ids"));
  return 1;
}

/* set:size() -> the number of distinct ids */
static int idset_lua_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_ud(L, METHOD("size"))->set.n);
  return 1;
}

/* set:state(id) -> "open" | "stopped" | "failed" | "already", or nil when id is not in the set */
static int idset_lua_state(lua_State *L) {
  idset *s = &check_ud(L, METHOD("state"))->set;
  uint32_t i = idset_lua_find(L, s, 2);
  if (i == IDSET_NONE) lua_pushnil(L);
  else lua_pushstring(L, OUTCOMES[s->state[i] & IDSET_OUTCOME]);
  return 1;
}

/* set:mark(id, "stopped" | "failed" | "already") -> true when the id was open (the first
 * outcome stands) */
static int idset_lua_mark(lua_State *L) {
  idset *s = &check_ud(L, METHOD("mark"))->set;
  unsigned outcome = check_outcome(L, 3, METHOD("mark"), 0);
  uint32_t i = idset_lua_find(L, s, 2);
  lua_pushboolean(L, i != IDSET_NONE && idset_settle(s, i, outcome));
  return 1;
}

/* set:mark_all(ids, "stopped" | "failed" | "already" [, batch]) -> how many of the array's ids were
 * open. batch: the number set:batch gave with these very ids; a range of positions is
 * then marked by position, with no lookups. */
static int idset_lua_mark_all(lua_State *L) {
  lua_settop(L, 4); /* the batch stays at 4, above it goes the ids array (check_ud) */
  idset *s = &check_ud(L, METHOD("mark_all"))->set;
  result_checktable(L, 2, METHOD("mark_all"), "ids");
  unsigned outcome = check_outcome(L, 3, METHOD("mark_all"), 0);
  const idset_batch *b = lua_isnil(L, 4) ? NULL : idset_lua_checkbatch(L, s, 4, METHOD("mark_all"));
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
 * the set. A job's answer counts for the ids of its batch (core.job_outcomes). nil and a
 * message when the set's ids array was changed (push_member). */
static int idset_lua_batch(lua_State *L) {
  idset_ud *u = check_ud(L, METHOD("batch"));
  idset *s = &u->set;
  uint32_t b;
  if (lua_type(L, 2) == LUA_TTABLE) {
    b = idset_new_batch(s, 0, 0);
    lua_pushvalue(L, 2);
  } else {
    long long first = result_checkwhole(L, 2, METHOD("batch"), "first");
    long long last = result_checkwhole(L, 3, METHOD("batch"), "last");
    if (first < 1 || first > last) return result_argerror(L, METHOD("batch"), "first", "is out of range");
    if (last > (long long)s->n) return result_argerror(L, METHOD("batch"), "last", "is out of range");
    lua_createtable(L, (int)(last - first + 1), 0);
    for (long long i = first; i <= last; i++) {
      int failed = push_member(L, u, (uint32_t)(i - 1));
      if (failed) return failed;
      lua_rawseti(L, -2, (lua_Integer)(i - first + 1));
    }
    b = idset_new_batch(s, (uint32_t)first, (uint32_t)last);
  }
  if (b == 0) return luaL_error(L, METHOD("batch") ": out of memory");
  lua_pushinteger(L, (lua_Integer)b);
  return 2;
}

/* set:counts() -> open, stopped, failed, already */
static int idset_lua_counts(lua_State *L) {
  idset *s = &check_ud(L, METHOD("counts"))->set;
  for (int k = 0; k < IDSET_NSTATES; k++) lua_pushinteger(L, (lua_Integer)s->count[k]);
  return IDSET_NSTATES;
}

/* set:list(outcome) -> a new array of the ids with that outcome, in order; nil and a
 * message when the set's ids array was changed (push_member) */
static int idset_lua_list(lua_State *L) {
  idset_ud *u = check_ud(L, METHOD("list"));
  unsigned outcome = check_outcome(L, 2, METHOD("list"), 1);
  idset *s = &u->set;
  uint32_t want = s->count[outcome];
  lua_createtable(L, (int)want, 0); /* want <= IDSET_MAX */
  lua_Integer k = 0;
  for (uint32_t i = 0; i < s->n && (uint32_t)k < want; i++) {
    if ((s->state[i] & IDSET_OUTCOME) != outcome) continue;
    int failed = push_member(L, u, i);
    if (failed) return failed;
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* set:close(), and __gc: frees the set's memory; again does nothing. */
static int idset_lua_close(lua_State *L) {
  idset_ud *u = result_checkudata(L, 1, IDSET_MT, METHOD("close"), NULL);
  idset_free(&u->set);
  return 0;
}

static int idset_lua_tostring(lua_State *L) {
  idset_ud *u = result_checkudata(L, 1, IDSET_MT, METHOD("__tostring"), NULL);
  if (!u->set.slots) lua_pushliteral(L, "cloud.core.idset (closed)");
  else lua_pushfstring(L, "cloud.core.idset (%d ids)", (int)u->set.n);
  return 1;
}

void idset_lua_register(lua_State *L, int core) {
  static const luaL_Reg methods[] = {{"ids", idset_lua_ids},       {"size", idset_lua_size},
                                     {"state", idset_lua_state},   {"mark", idset_lua_mark},
                                     {"mark_all", idset_lua_mark_all}, {"batch", idset_lua_batch},
                                     {"counts", idset_lua_counts}, {"list", idset_lua_list},
                                     {"close", idset_lua_close},   {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", idset_lua_close}, {"__tostring", idset_lua_tostring}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"idset", idset_lua_idset}, {"checked_idset", idset_lua_checked_idset},
                                   {NULL, NULL}};
  class_metatable(L, IDSET_MT, meta, methods);
  lua_pop(L, 1);
  class_functions(L, core, funcs);
}
