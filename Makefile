# Kaikukortti: `make run` starts the app with demo data, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := webapp

.PHONY: setup system-packages prepare run test test-sqlite test-postgres messages translations lint bench vendor clean

$(BIN)/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

translations: $(BIN)/flask
	$(BIN)/pybabel compile --use-fuzzy -d webapp/translations -D messages >/dev/null

setup: $(BIN)/flask translations

system-packages:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# Everything `run` does before serving: on a database that holds real data the demo is not
# loaded (one line says why) and the app starts all the same.
prepare: setup
	$(BIN)/flask db upgrade
	$(BIN)/flask demo --if-possible

run: prepare
	@echo "Kaikukortti runs at http://127.0.0.1:5000 (password of every demo user: kaikukortti-demo)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: setup system-packages test-sqlite test-postgres

test-sqlite:
	$(BIN)/pytest -q

test-postgres:
	TEST_DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest -q

messages: $(BIN)/flask
	$(BIN)/pybabel extract -F webapp/babel.cfg -k _l -o webapp/translations/messages.pot --no-location --sort-output --omit-header .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching --omit-header --ignore-obsolete

lint: $(BIN)/flask
	$(BIN)/ruff check webapp tests bench
	$(BIN)/ruff format --check webapp tests bench

bench: setup system-packages
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench

vendor: $(BIN)/flask
	bash static/js/vendor/update.sh

clean:
	rm -rf $(VENV) instance
