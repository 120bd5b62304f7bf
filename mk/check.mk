# make check: every unit test (tests/unit/*.c, TAP) and every tool and
# pipeline test (tests/tool/*.sh, tests/pipeline/*.sh, TAP) under prove(1).
# The last lines are prove's summary ("Result: PASS").
TOOL_TESTS = $(sort $(wildcard tests/tool/*.sh) $(wildcard tests/pipeline/*.sh))
PROVE = @PATH="$(CURDIR)/bin:$$PATH" XF_TOP="$(CURDIR)" prove --norc -j2 --timer

check: all $(UNIT)
	$(PROVE) $(UNIT) $(TOOL_TESTS)

# make check-unit: the unit tests, the fuzz replay and the hostile-input
# table only: what CI runs again under SAN=1 (see .ci/run).
check-unit: all $(UNIT)
	$(PROVE) $(UNIT) tests/tool/fuzz-replay.sh tests/tool/hostile.sh

.PHONY: check check-unit
