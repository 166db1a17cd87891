# MLDeploy — the two set-up commands of a fresh machine are `make run` and `make test`.
# Both install what the machine lacks first (scripts/bootstrap.sh), so no manual step is needed.

.PHONY: deps build run test clean

deps:
	@./scripts/bootstrap.sh

build: deps
	swift build

# The main job: the narrated life of a service on the embedded default target (memory:).
run: deps
	swift run mldeploy demo

test: deps
	./scripts/check-doc-comments.py
	swift test

clean:
	rm -rf .build
