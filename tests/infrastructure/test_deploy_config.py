"""samconfig.toml's example environments cannot be deployed unchanged: ``make deploy`` names their placeholder IDs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT
from tools import check_samconfig

PROD = (
    "samconfig.toml [prod] holds example IDs, not yours: AllowedPeerAccounts: 111122223333, 444455556666; "
    "AllowedPeerVpcs: vpc-0a1b2c3d4e5f60001, vpc-0a1b2c3d4e5f60002. Replace them with your accounts and VPCs "
    "in samconfig.toml before make deploy CONFIG_ENV=prod\n"
)


def test_the_prod_example_is_refused_naming_each_placeholder(capsys):
    assert check_samconfig.main(["--config-env", "prod"]) == 1
    assert capsys.readouterr().err == PROD


@pytest.mark.parametrize("environment", ["default", "dev"])
def test_the_environments_without_ids_pass(environment, capsys):
    assert check_samconfig.main(["--config-env", environment]) == 0
    assert capsys.readouterr().err == ""


def test_prod_with_real_ids_passes(tmp_path, capsys):
    text = (ROOT / "samconfig.toml").read_text()
    text = text.replace("111122223333,444455556666", "305418723619,587240936174")
    text = text.replace("vpc-0a1b2c3d4e5f60001,vpc-0a1b2c3d4e5f60002", "vpc-07f3c2a9d41e8b605")
    config = tmp_path / "samconfig.toml"
    config.write_text(text)

    assert check_samconfig.main(["--config-env", "prod", "--file", str(config)]) == 0


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ('AllowedPeerAccounts="123456789012"', "123456789012"),
        ('AllowedPeerVpcs="vpc-0123456789abcdef0"', "vpc-0123456789abcdef0"),
        ('AllowedPeerAccounts="<your account>"', "<your account>"),
        ('AllowedPeerAccounts="999999999999,305418723619"', "999999999999"),
    ],
)
def test_other_placeholders_are_found_in_either_form_of_overrides(value, found):
    assert check_samconfig.placeholders(value) == [found]
    name, text = value.split("=", 1)
    assert check_samconfig.overrides([f"{name}={text.strip(chr(34))}"]) == {name: text.strip('"')}


def test_an_unknown_environment_is_one_line(capsys):
    assert check_samconfig.main(["--config-env", "staging"]) == 1
    assert capsys.readouterr().err == "samconfig.toml has no environment 'staging' (it has default, dev, prod)\n"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_deploy_stops_before_building(tmp_path: Path):
    completed = subprocess.run(
        ["make", "--no-print-directory", "deploy", "CONFIG_ENV=prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0
    assert PROD.strip() in completed.stderr
    assert "sam build" not in completed.stdout
