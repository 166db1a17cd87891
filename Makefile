# MLDeploy — the two set-up commands of a fresh machine are `make run` and `make test`.
# Both install what the machine lacks first (scripts/bootstrap.sh), so no manual step is needed.

.PHONY: deps build run test example-client clean

deps:
	@./scripts/bootstrap.sh

build: deps
	swift build

# The main job: the ML Server-compatible REST server over the embedded default target, a
# filesystem store in ./mldeploy-data (`mldeploy serve --help` for options).
run: deps
	swift run mldeploy serve

test: deps
	./scripts/check-doc-comments.py
	swift test

# examples/typed-client end to end: `swift package mldeploy-client` fetches a service's OpenAPI
# document from a real `mldeploy serve`, swift-openapi-generator generates the client, it calls the
# service (docs/typed-clients.md).
example-client: deps
	swift build --product mldeploy
	./scripts/typed-client-example.sh .build/debug/mldeploy

clean:
	rm -rf .build
