-- luacheck's configuration (`luacheck .` from the top of the checkout; `make test` runs it).
-- The code runs under Lua 5.4 and LuaJIT 2.1 (OpenResty), the command line tool under Lua 5.1
-- too, so a global must exist in one of them; `ngx` only where nginx runs the code.

std = "lua54+luajit"
max_line_length = 120
exclude_files = { "build/", "bench/node/node_modules/", "bench/out/", "fuzz/corpus-run/" }

-- The cosocket transport and nginx helpers run inside nginx (lua-nginx-module).
files["lua/cloud/nginx/"] = { std = "ngx_lua+lua54" }
-- Stops in flight are registered per worker or in a lua_shared_dict: inside nginx only.
files["lua/cloud/op/inflight.lua"] = { std = "ngx_lua+lua54" }

-- The command line tool also runs under plain Lua 5.1.
files["lua/cloud/cli/"] = { std = "lua54+luajit+lua51" }
files["bin/"] = { std = "lua54+luajit+lua51" }

-- The emulator: its request handlers run inside nginx; its launcher, client and benchmark
-- run under lua5.4 or luajit beside it.
files["tools/fakecloud/"] = { std = "ngx_lua+lua54" }
files["tools/fakecloud/launcher.lua"] = { std = "lua54+luajit" }
files["tools/fakecloud/client.lua"] = { std = "lua54+luajit" }
files["tools/fakecloud/proc.lua"] = { std = "lua54+luajit" }
files["tools/fakecloud/bench.lua"] = { std = "lua54+luajit" }

-- busted specs; the app nginx of spec/nginx_spec.lua has handlers that nginx runs.
files["spec/"] = { std = "lua54+luajit+busted" }
files["spec/support/appnginx.lua"] = { std = "lua54+busted+ngx_lua" }
files["spec/support/jobapp.lua"] = { std = "lua54+ngx_lua" }
files["spec/support/everyapp.lua"] = { std = "lua54+ngx_lua" }
files["spec/support/shutdown_app.lua"] = { std = "lua54+busted+ngx_lua" }
