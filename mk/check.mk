# make check: every unit test (tests/unit/*.c, TAP) and every tool and
# pipeline test (tests/tool/*.sh, tests/pipeline/*.sh, TAP) under prove(1).
# The last lines are prove's summary ("Result: PASS").
TOOL_TESTS = $(sort $(wildcard tests/tool/*.sh) $(wildcard tests/pipeline/*.sh))
PROVE_ENV = PATH="$(CURDIR)/bin:$$PATH" XF_TOP="$(CURDIR)"
PROVE = @$(PROVE_ENV) prove --norc -j2 --timer

# The kernel and model tests run once per path of the engine this CPU has
# (lib/nn.h, "Instruction sets"): generic always, avx2 when /proc/cpuinfo
# lists avx2 and fma, avx512 when it lists avx512f.  XF_ISA picks the path; the tests check it
# runs.
ISA_UNIT = tests/unit/test_kernels.t tests/unit/test_model.t tests/unit/test_resid.t
XF_ISAS  = generic \
  $(if $(shell grep -qsw avx2 /proc/cpuinfo && grep -qsw fma /proc/cpuinfo && echo y),avx2) \
  $(if $(shell grep -qsw avx512f /proc/cpuinfo && echo y),avx512)
ISA_LOOP = for isa in $(XF_ISAS); do echo "XF_ISA=$$isa"; \
	  XF_ISA=$$isa $(PROVE_ENV) prove --norc -j2 --timer $(ISA_UNIT) || exit 1; \
	done

check: all $(UNIT)
	$(PROVE) $(filter-out $(ISA_UNIT),$(UNIT)) $(TOOL_TESTS)
	@$(ISA_LOOP)
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
	$(PROVE) $(filter-out $(ISA_UNIT),$(UNIT)) tests/tool/fuzz-replay.sh \
	    tests/tool/hostile.sh
	@$(ISA_LOOP)

.PHONY: check check-unit
