# cm - build, test and install.  `make demo` and `make test` install what is
# missing (make deps), build, and run; see README.md.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread \
           -Icompiler -Iruntime -Istdlib -Icli -I$(BUILD)/gen
LDLIBS  += -lgsl -lopenblas -lffi -ldl -lm -lpthread

# Debian packages the build and the tests need (command or header -> package).
DEPS_PKGS = re2c bison libgsl-dev libffi-dev libopenblas-dev python3 valgrind

LIB_SRCS = $(wildcard compiler/*.c runtime/*.c stdlib/*.c)
GEN_SRCS = $(BUILD)/gen/parser.c $(BUILD)/gen/lexer.c $(BUILD)/gen/prelude.c \
           $(BUILD)/gen/native_prelude.c
CLI_SRCS = $(wildcard cli/*.c)
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/parser.o $(BUILD)/gen/lexer.o \
           $(BUILD)/gen/prelude.o $(BUILD)/gen/native_prelude.o
CLI_OBJS = $(CLI_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test unit sanitize fuzz install clean check-posteriordb bench cmrun
all: cmrun

deps:
	@sh tests/deps.sh $(DEPS_PKGS)

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: grammar/parser.y
	@mkdir -p $(BUILD)/gen
	bison -Wall -Werror -o $(BUILD)/gen/parser.c --header=$(BUILD)/gen/parser.h $<

$(BUILD)/gen/lexer.c: grammar/lexer.re $(BUILD)/gen/parser.h
	@mkdir -p $(BUILD)/gen
	re2c -W -Werror --utf8 -o $@ $<

$(BUILD)/gen/prelude.c: stdlib/prelude.cm stdlib/embed.sh
	@mkdir -p $(BUILD)/gen
	sh stdlib/embed.sh stdlib/prelude.cm $@ cm_prelude_source

# the headers native code is compiled against (runtime/native.c), as one
# text with their includes of each other dropped
NATIVE_HEADERS = stdlib/dist.h runtime/tape.h runtime/tape_ops.h
$(BUILD)/gen/native_prelude.c: $(NATIVE_HEADERS) stdlib/embed.sh
	@mkdir -p $(BUILD)/gen
	cat $(NATIVE_HEADERS) | grep -v '^#include "' > $(BUILD)/gen/native_prelude.h.txt
	sh stdlib/embed.sh $(BUILD)/gen/native_prelude.h.txt $@ cm_native_prelude

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -Igrammar -Wno-unused-function -Wno-sign-compare -c -o $@ $<

$(BUILD)/%.o: %.c $(BUILD)/gen/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Igrammar -MMD -MP -c -o $@ $<

$(BUILD)/libcm.a: $(LIB_OBJS)
	rm -f $@; ar rcs $@ $^

$(BUILD)/cmrun: $(CLI_OBJS) $(BUILD)/libcm.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libcm.a $(LDFLAGS) $(LDLIBS)

# the default build's binary also sits at the top, where the README runs it
cmrun: $(BUILD)/cmrun
	@if [ "$(BUILD)" = build ]; then cp $(BUILD)/cmrun cmrun.tmp && mv -f cmrun.tmp cmrun; fi

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Igrammar -o $@ $< $(BUILD)/libcm.a $(LDFLAGS) $(LDLIBS)

examples/ffi/libhazard.so: examples/ffi/hazard.c
	$(CC) -O2 -fPIC -shared -o $@ $< -lm

unit: $(UNIT_BINS)

# The whole suite: unit programs, error programs, end-to-end runs.
test: deps
	@$(MAKE) --no-print-directory cmrun unit examples/ffi/libhazard.so
	@sh tests/run.sh $(BUILD)

sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san CC=clang \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" build-san/cmrun unit examples/ffi/libhazard.so
	@ASAN_OPTIONS=detect_leaks=1 sh tests/run.sh build-san

demo: deps
	@$(MAKE) --no-print-directory cmrun
	./cmrun examples/eight_schools.cm --data examples/eight_schools.json --infer nuts --seed 1

check-posteriordb: deps
	@$(MAKE) --no-print-directory cmrun
	@sh tests/posteriordb.sh all

bench: deps
	@$(MAKE) --no-print-directory cmrun
	@sh bench/run.sh

fuzz: deps
	@sh tests/fuzz/run.sh

install: cmrun
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/cm
	install -m 755 cmrun $(DESTDIR)$(PREFIX)/bin/cmrun
	cp -r examples docs $(DESTDIR)$(PREFIX)/share/cm/

clean:
	rm -rf build build-san cmrun examples/ffi/libhazard.so

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
