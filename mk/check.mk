# make check: every unit test (tests/unit/*.c, TAP) and every tool and
# pipeline test (tests/tool/*.sh, tests/pipeline/*.sh, TAP) under prove(1).
# The last lines are prove's summary ("Result: PASS").
TOOL_TESTS = $(sort $(wildcard tests/tool/*.sh) $(wildcard tests/pipeline/*.sh))
PROVE = @PATH="$(CURDIR)/bin:$$PATH" XF_TOP="$(CURDIR)" prove --norc -j2 --timer

check: all $(UNIT)
	$(PROVE) $(UNIT) $(TOOL_TESTS)
	@$(CLEAN_TREE)

# Tests work in scratch folders under $$TMPDIR, never in the checkout: after
# them, git status lists nothing (build outputs are in .gitignore).  Outside
# a git checkout (a tarball) there is nothing to compare with.
CLEAN_TREE = if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  s=$$(git status --porcelain); \
	  if [ -n "$$s" ]; then \
	    echo "check: the tests left files in the checkout:"; echo "$$s"; exit 1; \
	  fi; fi

# make check-unit: the unit tests, the fuzz replay and the hostile-input
# table only: what CI runs again under SAN=1 (see .ci/run).
check-unit: all $(UNIT)
	$(PROVE) $(UNIT) tests/tool/fuzz-replay.sh tests/tool/hostile.sh

.PHONY: check check-unit
