"""gankit lab without a browser: the control values the page may send, and the server's rule that
it answers only its own page (Starlette's test client; no training runs here)."""

from __future__ import annotations

import json
import socket
import sys

import pytest

from gankit.lab.controls import DEFAULTS, LabInputError, parse_mixture, validate_run

LOSSES = ["minimax", "nonsaturating", "hinge"]


# -- the controls (pure) --------------------------------------------------------------------------
def test_defaults_complete_and_typed():
    settings = validate_run({}, LOSSES)
    assert settings["loss"] == "nonsaturating" and settings["k"] == 1
    assert isinstance(settings["k"], int) and isinstance(settings["lr_g"], float)


def test_text_of_an_input_box_is_parsed():
    settings = validate_run({"k": "3", "lr_d": " 2e-4 ", "ema": "0.99"}, LOSSES)
    assert settings["k"] == 3 and settings["lr_d"] == 2e-4 and settings["ema"] == 0.99


@pytest.mark.parametrize(("raw", "field", "words"), [
    ({"k": "abc"}, "k", "must be a number"),
    ({"k": 2.5}, "k", "whole number"),
    ({"k": 0}, "k", "[1, 20]"),
    ({"lr_g": 5}, "lr_g", "[1e-06, 1]"),
    ({"lr_d": "nan"}, "lr_d", "finite"),
    ({"ema": 1.0}, "ema", "[0, 1)"),
    ({"pack": True}, "pack", "must be a number"),
    ({"loss": "hinge2"}, "loss", "one of minimax, nonsaturating, hinge"),
    ({"data": "../../etc/passwd"}, "data", "one of ring"),
    ({"prior": {"x": 1}}, "prior", "one of normal"),
    ({"batch_size": 100, "pack": 3}, "batch_size", "multiple of pack m = 3"),
])
def test_bad_values_name_the_control(raw, field, words):
    with pytest.raises(LabInputError) as info:
        validate_run(raw, LOSSES)
    assert info.value.field == field
    assert words in str(info.value)


def test_unknown_control_and_non_object_refused():
    with pytest.raises(LabInputError, match="unknown control 'code'"):
        validate_run({"code": "import os"}, LOSSES)
    with pytest.raises(LabInputError, match="object"):
        validate_run(["k", 1], LOSSES)


def test_mixture_text():
    means, weights = parse_mixture("0, 0; 2 0 ; 1,1,3\n-1, 2")
    assert means == ((0.0, 0.0), (2.0, 0.0), (1.0, 1.0), (-1.0, 2.0))
    assert weights == (1.0, 1.0, 3.0, 1.0)
    assert parse_mixture("0,0;1,1") == (((0.0, 0.0), (1.0, 1.0)), ())  # equal weights: empty


@pytest.mark.parametrize(("text", "words"), [
    ("", "1 to 50 modes"), ("0, 0, 1, 1", "mode 1"), ("0, 0; 50, 0", "within ±20"),
    ("0, 0, -1", "weight must be > 0"), ("1, 1; 1, 1", "same centre"), ("a, b", "number"),
    (";".join(["0, 0"] * 51), "1 to 50 modes"),
])
def test_bad_mixture(text, words):
    with pytest.raises(LabInputError) as info:
        validate_run({"data": "mixture", "mixture": text}, LOSSES)
    assert info.value.field == "mixture" and words in str(info.value)


def test_config_errors_map_to_controls():
    """A value the lab's ranges let through but gankit's config refuses names its control."""
    from gankit.lab.session import build_config

    settings = validate_run({}, LOSSES)
    with pytest.raises(LabInputError) as info:
        build_config({**settings, "k": 0}, seed=0)
    assert info.value.field == "k" and "train.k = 0" in str(info.value)


def test_loss_list_is_the_registry(monkeypatch):
    """A loss registered with gankit appears in the lab (and is accepted) by itself."""
    from gankit.lab.session import loss_names, loss_options
    from gankit.losses import LOSSES as REGISTRY

    name = "lab-test-loss"
    monkeypatch.setitem(REGISTRY._items, name, REGISTRY["hinge"])
    monkeypatch.setitem(REGISTRY._info, name, {"critic": True})
    assert name in loss_names()
    option = next(o for o in loss_options() if o["name"] == name)
    assert option == {"name": name, "label": name.replace("_", " "), "critic": True}
    assert {"minimax", "nonsaturating", "ml", "wasserstein", "hinge", "least_squares"} <= set(
        loss_names())
    assert "python" not in loss_names()
    assert validate_run({"loss": name}, loss_names())["loss"] == name


# -- the server ---------------------------------------------------------------------------------
PORT = 8000
OWN = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A test client of the lab app whose engine is set up but not training (commands queue)."""
    pytest.importorskip("starlette", reason="the lab needs the extra gankit[lab]")
    pytest.importorskip("httpx", reason="Starlette's test client needs httpx")
    import warnings

    from gankit.lab.engine import Engine
    from gankit.lab.server import allowed_hosts, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's notice about its httpx client
        from starlette.testclient import TestClient
    engine = Engine(tmp_path_factory.mktemp("lab"))
    engine._setup()
    engine.ready.set()
    with TestClient(create_app(engine, allowed_hosts("127.0.0.1", PORT)), base_url=OWN) as c:
        yield c


def post(client, path, body, **headers):
    return client.post(path, content=json.dumps(body),
                       headers={"Content-Type": "application/json", **headers})


def test_page_and_vendored_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/lab.js" in page.text
    assert "http" not in page.text.replace(OWN, "").split("<body>")[1]  # no other site named
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    for name in ("lab.js", "lab.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for bad in ("/static/server.py", "/static/..%2fserver.py", "/static/../session.py"):
        assert client.get(bad).status_code == 404


def test_options_list_controls(client):
    options = client.get("/api/options").json()
    assert {o["name"] for o in options["losses"]} >= {"minimax", "wasserstein", "hinge"}
    assert options["data"] == ["ring", "grid", "unrolled-ring", "mixture"]
    assert options["controls"]["a"]["loss"] == DEFAULTS["loss"]
    assert options["controls"]["b"]["unroll"] > 0  # the second run starts with a remedy


@pytest.mark.parametrize(("headers", "words"), [
    ({"Host": "evil.example"}, "Host 'evil.example'"),
    ({"Host": f"127.0.0.1.evil.example:{PORT}"}, "is not one of them"),
    ({"Host": "127.0.0.1:9999"}, "Host '127.0.0.1:9999'"),
    ({"Origin": "http://evil.example"}, "Origin 'http://evil.example' is another site"),
    ({"Origin": f"https://127.0.0.1:{PORT}.evil.example"}, "another site"),
    ({"Sec-Fetch-Site": "cross-site"}, "not a request from another site"),
])
def test_foreign_requests_refused(client, headers, words):
    for response in (client.get("/", headers=headers),
                     client.get("/api/options", headers=headers),
                     post(client, "/api/command", {"name": "pause"}, **headers)):
        assert response.status_code == 403
        assert words in response.text


def test_own_origin_and_local_names_accepted(client):
    for host in (f"localhost:{PORT}", f"[::1]:{PORT}"):
        assert client.get("/", headers={"Host": host}).status_code == 200
    response = post(client, "/api/config", {"run": "a", "controls": {}}, Origin=OWN)
    assert response.status_code == 200


def test_posts_must_be_json(client):
    response = client.post("/api/command", content="name=pause",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403 and "JSON" in response.text
    response = client.post("/api/command", content="{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    big = {"run": "a", "controls": {"mixture": "0, 0;" * 20_000}}
    response = post(client, "/api/config", big)
    assert response.status_code == 400 and "larger than" in response.json()["error"]


@pytest.mark.parametrize(("controls", "field"), [
    ({"k": "abc"}, "k"), ({"lr_g": -1}, "lr_g"), ({"loss": "rm -rf"}, "loss"),
    ({"data": "mixture", "mixture": "0, 0; x"}, "mixture"), ({"batch_size": 30, "pack": 4},
                                                              "batch_size"),
])
def test_bad_control_values_answered_with_a_message(client, controls, field):
    response = post(client, "/api/config", {"run": "a", "controls": controls})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and body["error"]


def test_bad_seed_run_and_command(client):
    response = post(client, "/api/config", {"run": "a", "controls": {}, "seed": -1})
    assert response.status_code == 400 and response.json()["field"] == "seed"
    response = post(client, "/api/config", {"run": "c", "controls": {}})
    assert response.status_code == 400 and "unknown run" in response.json()["error"]
    response = post(client, "/api/command", {"name": "shutdown"})
    assert response.status_code == 400 and "unknown command" in response.json()["error"]


def test_good_controls_come_back_typed(client):
    response = post(client, "/api/config", {"run": "b", "controls": {"k": "2", "loss": "hinge"},
                                            "seed": "7"})
    assert response.status_code == 200
    settings = response.json()["controls"]
    assert settings["k"] == 2 and settings["loss"] == "hinge"


# -- the command ----------------------------------------------------------------------------------
def test_command_without_the_extra_says_how_to_install(monkeypatch):
    from typer.testing import CliRunner

    from gankit.cli import app

    monkeypatch.setitem(sys.modules, "starlette", None)  # as if not installed
    result = CliRunner().invoke(app, ["lab", "--no-browser"])
    assert result.exit_code == 2
    assert "pip install 'gankit[lab]'" in " ".join(result.output.split())


def test_port_in_use_is_one_line(tmp_path):
    pytest.importorskip("uvicorn", reason="the lab needs the extra gankit[lab]")
    from typer.testing import CliRunner

    from gankit.cli import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["lab", "--port", str(port), "--no-browser",
                                          "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["lab", "--port", "70000", "--no-browser"])
    assert result.exit_code == 2 and "--port must be in [0, 65535]" in result.output


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_a_non_local_host_gets_a_warning(monkeypatch, tmp_path, host, warned):
    """Serving beyond this machine is the user's explicit choice, and it is said so."""
    pytest.importorskip("uvicorn", reason="the lab needs the extra gankit[lab]")
    import uvicorn
    from typer.testing import CliRunner

    from gankit.cli import app
    from gankit.lab.engine import Engine

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: served.append(sockets))
    monkeypatch.setattr(Engine, "start", lambda self: None)
    result = CliRunner().invoke(app, ["lab", "--host", host, "--port", "0", "--no-browser",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(served) == 1 and f"http://{host}:" in result.output
    assert ("makes the lab reachable from other machines" in " ".join(result.output.split())
            ) is warned
