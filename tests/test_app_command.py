"""`cropaudit app`: flags, the params section, and start-up errors as one line."""

from __future__ import annotations

import pytest

from cropaudit.cli import build_parser, main
from cropaudit.config import load_params
from cropaudit.errors import ConfigError


def test_app_flags_parse():
    args = build_parser().parse_args(
        ["app", "--host", "0.0.0.0", "--port", "9000", "--params", "p.yaml", "--model", "m.vxm"])
    assert (args.host, args.port, args.params, args.model) == ("0.0.0.0", 9000, "p.yaml", "m.vxm")


def test_app_section_of_params(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("app:\n  port: 9123\n  top_k: 8\n  max_upload_pixels: 1000000\n")
    params = load_params(p)
    assert (params.app.port, params.app.top_k, params.app.max_upload_pixels) == (9123, 8, 10**6)
    assert params.app.host == "127.0.0.1"  # local only unless asked
    p.write_text("app:\n  prot: 9123\n")
    with pytest.raises(ConfigError, match=r"app\.prot"):
        load_params(p)


def test_bad_port_is_one_line_error(capsys):
    assert main(["app", "--port", "70000", "--no-preload"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "cropaudit app: error: --port must be between 1 and 65535, got 70000"
