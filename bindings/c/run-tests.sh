#!/usr/bin/env bash
# Tests of the C binding (bindings/c):
#   1. the committed header include/mandate.h is what cbindgen 0.29.4 generates now;
#   2. the Rust tests of the binding (`cargo test -p mandate-c`);
#   3. libmandate.so and libmandate.a built in release, a mandate.pc written for the build tree;
#   4. tests/test.c and examples/gate.c compiled with the C compiler against the header, linked
#      statically and dynamically (through pkg-config when present), and run;
#   5. the test compiled with AddressSanitizer and UndefinedBehaviorSanitizer
#      (-fsanitize=address,undefined), linked statically and dynamically, and run: any report
#      fails (the Rust code is not instrumented, but its heap goes through ASan's malloc, so
#      double frees, invalid frees and leaks there are caught too);
#   6. the dynamically linked test under valgrind (when installed) with fewer iterations.
# Exits non-zero on the first failure.
#
# Environment: CARGO_TARGET_DIR (default: the workspace's target/), CC (default: cc),
# MANDATE_C_ITERATIONS (authorize calls per thread, default 10000), MANDATE_C_VALGRIND=0 to skip
# valgrind, MANDATE_C_ASAN=0 to skip the sanitizers, MANDATE_C_SKIP_RUST_TESTS=1 to skip step 2.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
LIBDIR="$TARGET/release"
OUT="$TARGET/mandate-c-test"
CC="${CC:-cc}"
ITERATIONS="${MANDATE_C_ITERATIONS:-10000}"
CBINDGEN_VERSION="0.29.4"
PLATFORM="$ROOT/policies/agent-platform"
mkdir -p "$OUT"

step() { printf '\n== %s\n' "$*"; }

# ---- 1. header up to date ----------------------------------------------------------------
step "header: cbindgen $CBINDGEN_VERSION"
CBINDGEN="$(command -v cbindgen || true)"
if [[ -z "$CBINDGEN" && -x "$HOME/.cargo/bin/cbindgen" ]]; then
  CBINDGEN="$HOME/.cargo/bin/cbindgen"
fi
if [[ -z "$CBINDGEN" ]] || ! "$CBINDGEN" --version | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  echo "installing cbindgen $CBINDGEN_VERSION (about 3 minutes)"
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
  CBINDGEN="$HOME/.cargo/bin/cbindgen"
fi
GENERATED="$OUT/mandate.h"
(cd "$HERE" && "$CBINDGEN" --quiet --config cbindgen.toml --crate mandate-c --output "$GENERATED")
if ! diff -u "$HERE/include/mandate.h" "$GENERATED"; then
  echo "error: bindings/c/include/mandate.h is out of date; regenerate it with:" >&2
  echo "  (cd bindings/c && cbindgen --config cbindgen.toml --crate mandate-c --output include/mandate.h)" >&2
  exit 1
fi
echo "include/mandate.h is up to date"

# ---- 2. Rust tests -------------------------------------------------------------------------
if [[ "${MANDATE_C_SKIP_RUST_TESTS:-0}" != 1 ]]; then
  step "cargo test -p mandate-c"
  (cd "$ROOT" && cargo test -p mandate-c --quiet)
fi

# ---- 3. release build and mandate.pc -------------------------------------------------------
# `cargo rustc` rather than `cargo build`: it builds the same two libraries and also prints the
# system libraries a static link needs (`--print native-static-libs`). When the build is fresh
# cargo replays the note from its cache; if it is missing anyway, the list seen on Linux is used.
step "cargo build --release (libmandate.so, libmandate.a)"
LOG="$OUT/build.log"
(cd "$ROOT" && cargo rustc -p mandate-c --release --lib --crate-type cdylib,staticlib \
  -- --print native-static-libs) 2>&1 | tee "$LOG" | grep -v "^note: " || true
if [[ ! -f "$LIBDIR/libmandate.so" || ! -f "$LIBDIR/libmandate.a" ]] || grep -q "^error" "$LOG"; then
  echo "error: the release build failed" >&2
  exit 1
fi
NATIVE_LIBS="$(sed -n 's/^note: native-static-libs: //p' "$LOG" | tail -n 1)"
NATIVE_LIBS="${NATIVE_LIBS:--lgcc_s -lutil -lrt -lpthread -lm -ldl -lc}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
PCDIR="$LIBDIR/pkgconfig"
mkdir -p "$PCDIR"
sed -e "s|@PREFIX@|$LIBDIR|" -e "s|@LIBDIR@|$LIBDIR|" -e "s|@INCLUDEDIR@|$HERE/include|" \
  -e "s|@VERSION@|$VERSION|" -e "s|@NATIVE_LIBS@|$NATIVE_LIBS|" \
  "$HERE/mandate.pc.in" > "$PCDIR/mandate.pc"
echo "wrote $PCDIR/mandate.pc (Libs.private: $NATIVE_LIBS)"

# ---- 4. C programs, static and dynamic -----------------------------------------------------
CWARN=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -g)
if command -v pkg-config > /dev/null; then
  export PKG_CONFIG_PATH="$PCDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  read -r -a CFLAGS_PC <<< "$(pkg-config --cflags mandate)"
  read -r -a LIBS_DYN <<< "$(pkg-config --libs mandate)"
  # Static: the archive itself (with -lmandate the linker would prefer the .so), then the
  # system libraries of Libs.private.
  read -r -a LIBS_STATIC <<< "$(pkg-config --static --libs mandate | tr ' ' '\n' \
    | grep -v -e '^-L' -e '^-lmandate$' | tr '\n' ' ')"
  echo "using pkg-config: $(pkg-config --modversion mandate)"
else
  CFLAGS_PC=(-I"$HERE/include")
  LIBS_DYN=(-L"$LIBDIR" -lmandate)
  read -r -a LIBS_STATIC <<< "$NATIVE_LIBS"
  echo "pkg-config not found: using the paths directly"
fi

build() { # name source static|dynamic [extra compiler flags...]
  local name="$1" src="$2" kind="$3"
  shift 3
  if [[ "$kind" == static ]]; then
    "$CC" "${CWARN[@]}" "$@" "${CFLAGS_PC[@]}" "$src" "$LIBDIR/libmandate.a" "${LIBS_STATIC[@]}" -lpthread \
      -o "$OUT/$name"
    # ldd's output goes to a variable first: `ldd | grep -q` can fail under pipefail when grep
    # exits at the first match and ldd gets SIGPIPE.
    local libs
    libs="$(ldd "$OUT/$name" 2>/dev/null || true)"
    if grep -q libmandate <<< "$libs"; then
      echo "error: $name is not statically linked" >&2
      exit 1
    fi
  else
    "$CC" "${CWARN[@]}" "$@" "${CFLAGS_PC[@]}" "$src" "${LIBS_DYN[@]}" -Wl,-rpath,"$LIBDIR" -lpthread \
      -o "$OUT/$name"
    local libs
    libs="$(ldd "$OUT/$name")"
    grep -q "libmandate.so" <<< "$libs" || { echo "error: $name does not load libmandate.so" >&2; exit 1; }
  fi
}

# The tests provoke one panic on purpose (mandate_testing_panic); Rust's hook prints its message.
export RUST_BACKTRACE=0

step "C test, statically linked"
build test-static "$HERE/tests/test.c" static
"$OUT/test-static" "$PLATFORM" "$ITERATIONS"

step "C test, dynamically linked"
build test-dynamic "$HERE/tests/test.c" dynamic
"$OUT/test-dynamic" "$PLATFORM" "$ITERATIONS"

step "example gate.c"
build gate "$HERE/examples/gate.c" dynamic
GATE_OUT="$("$OUT/gate" "$PLATFORM" < "$HERE/examples/requests.jsonl")"
echo "$GATE_OUT"
EXPECTED="allow
deny
deny
error"
if [[ "$(printf '%s\n' "$GATE_OUT" | cut -d' ' -f1)" != "$EXPECTED" ]]; then
  echo "error: gate printed unexpected decisions" >&2
  exit 1
fi

# ---- 5. AddressSanitizer + UndefinedBehaviorSanitizer -------------------------------------
# The sanitizer runtime must be the first library loaded, so the test program itself is built
# with -fsanitize (no LD_PRELOAD needed); libmandate (static or shared) is linked as usual and
# its allocations go through the runtime's malloc/free. -fno-sanitize-recover makes any
# UBSan finding fatal; ASan and LeakSanitizer exit non-zero on any report.
SAN_FLAGS=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
if [[ "${MANDATE_C_ASAN:-1}" == 0 ]]; then
  step "sanitizers: skipped (MANDATE_C_ASAN=0)"
elif ! printf 'int main(void) { return 0; }\n' \
    | "$CC" "${SAN_FLAGS[@]}" -x c - -o "$OUT/asan-probe" 2> "$OUT/asan-probe.log"; then
  step "sanitizers: NOT RUN"
  echo "warning: $CC cannot build with ${SAN_FLAGS[*]} (is libasan/libubsan installed? on Debian:" >&2
  echo "  apt-get install libasan8 libubsan1, or the gcc package that brings them); valgrind still runs" >&2
  sed 's/^/  /' "$OUT/asan-probe.log" >&2
  if [[ "${CI:-}" == true ]]; then
    echo "error: under CI=true the sanitizer run cannot be skipped" >&2
    exit 1
  fi
else
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  ASAN_ITERATIONS=$(( ITERATIONS < 2000 ? ITERATIONS : 2000 ))
  step "C test with AddressSanitizer + UBSan, statically linked ($ASAN_ITERATIONS iterations per thread)"
  build test-asan-static "$HERE/tests/test.c" static "${SAN_FLAGS[@]}"
  "$OUT/test-asan-static" "$PLATFORM" "$ASAN_ITERATIONS"
  step "C test with AddressSanitizer + UBSan, dynamically linked ($ASAN_ITERATIONS iterations per thread)"
  build test-asan-dynamic "$HERE/tests/test.c" dynamic "${SAN_FLAGS[@]}"
  "$OUT/test-asan-dynamic" "$PLATFORM" "$ASAN_ITERATIONS"
  step "example gate.c with AddressSanitizer + UBSan"
  build gate-asan "$HERE/examples/gate.c" dynamic "${SAN_FLAGS[@]}"
  "$OUT/gate-asan" "$PLATFORM" < "$HERE/examples/requests.jsonl" > /dev/null
  echo "sanitizers: no reports"
fi

# ---- 6. valgrind -----------------------------------------------------------------------------
if [[ "${MANDATE_C_VALGRIND:-1}" != 0 ]] && command -v valgrind > /dev/null; then
  step "C test under valgrind (200 iterations per thread)"
  valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect "$OUT/test-dynamic" "$PLATFORM" 200
else
  step "valgrind not installed (or MANDATE_C_VALGRIND=0): skipped"
fi

step "bindings/c: all tests passed"
