# Switchboard — two commands matter: `make run` and `make test`.
GO            ?= go
BIN           := bin/switchboard
BENCH_TENANTS ?= 1000
TEST_FLAGS    ?= -timeout 15m

.PHONY: build run test check fmt-check vet staticcheck unit bench clean

build:
	$(GO) build -o $(BIN) ./app

# Embedded PostgreSQL under .data/postgres, migrations, demo clients, server.
run: build
	./$(BIN) migrate
	./$(BIN) demo
	exec ./$(BIN) serve

test: check unit

check: fmt-check vet staticcheck

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

unit:
	$(GO) test $(TEST_FLAGS) ./...

# One table of measurements on a fresh embedded cluster: make bench BENCH_TENANTS=10000
bench: build
	./$(BIN) bench --tenants $(BENCH_TENANTS)

clean:
	rm -rf bin
