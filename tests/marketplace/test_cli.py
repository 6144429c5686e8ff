"""Operator commands: create departments, vendors and users; seed the demo."""

from __future__ import annotations

from core.ids import uscc_check_char


def test_create_department_vendor_and_user(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["departments", "create", "--code", "cli-dept", "--name", "命令行局"])
    assert result.exit_code == 0, result.output
    code = "91310000MA1FL0009" + uscc_check_char("91310000MA1FL0009")
    result = runner.invoke(args=["vendors", "create", "--name", "CLI Vendor", "--credit-code", code])
    assert result.exit_code == 0, result.output
    vendor_id = int(result.output.split()[2])
    result = runner.invoke(args=["users", "create", "--email", "dev@cli.example.cn", "--name", "Dev",
                                 "--role", "vendor_member", "--vendor", str(vendor_id)],
                           input="long enough password\nlong enough password\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "create-client", "--email", "dev@cli.example.cn", "--name", "CI",
                                 "--scope", "apps:write", "--scope", "apps:read"])
    assert result.exit_code == 0, result.output
    assert "client_secret=" in result.output


def test_invalid_credit_code_is_explained(app):
    result = app.test_cli_runner().invoke(args=["vendors", "create", "--name", "X", "--credit-code",
                                                "91310000MA1FL00090"])
    assert result.exit_code != 0
    assert "check character" in result.output


def test_demo_seed_is_idempotent_and_prints_every_role(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed", "--base-only"])
    assert first.exit_code == 0, first.output
    for role in ("admin", "finance", "auditor", "department_staff", "vendor_member", "citizen"):
        assert role in first.output
    assert "demo-password" in first.output
    second = runner.invoke(args=["demo", "seed", "--base-only"])
    assert second.exit_code == 0, second.output

    from marketplace.orders.services import order_list

    open_orders = order_list(None, status="open").items
    assert {o.slug for o in open_orders} >= {"food-licence", "social-security-card"}
    assert len({o.department_id for o in open_orders}) == 2
