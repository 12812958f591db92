# Entry points. `make demo` and `make test` each install what they need first.
.PHONY: all build test valgrind demo fuzz bench docs reliability install clean

all: build

build:
	bash tools/deps.sh
	cmake -S . -B build/5.4 -DLUA=5.4 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/5.4 -j2
	cmake -S . -B build/luajit -DLUA=luajit -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/luajit -j2
	cmake -S . -B build/5.1 -DLUA=5.1 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/5.1 -j2

test:
	bash tools/test.sh

valgrind:
	CLOUD_RUNS=valgrind bash tools/test.sh

demo: build
	bash tools/demo.sh

fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

bench: build
	bash bench/run.sh

# The API reference, from the doc comments (config.ld): build/docs/index.html.
docs:
	bash tools/deps.sh
	ldoc --fatalwarnings .

# The reliability figures of docs/reliability.md, counted against the emulator.
reliability: build
	LUA_CPATH="build/5.4/?.so;;" lua5.4 tools/reliability.lua

install:
	bash tools/deps.sh
	luarocks --lua-version 5.4 make --deps-mode=none rockspec/cloud-scm-1.rockspec
	luarocks --lua-version 5.1 make --deps-mode=none rockspec/cloud-scm-1.rockspec

clean:
	rm -rf build
