"""flask users …: every account task from the CLI, failures as one clear line."""
from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from api.commands import database_url
from api.extensions import db
from tests.conftest import make_app
from tests.helpers import PASSWORD, assert_error, assert_ok, login, me, refresh, register

NEW_PASSWORD = "reset by the operator"


def users(runner, *args, input=None):
    return runner.invoke(args=["users", *args], input=input)


def database_line(app):
    """What a writing command prints first: the database, password masked."""
    with app.app_context():
        return f"database: {db.engine.url.render_as_string(hide_password=True)}"


def said(result):
    """Standard output after the database line (which must come first)."""
    lines = result.stdout.splitlines()
    assert lines and lines[0].startswith("database: "), result.output
    return "".join(f"{line}\n" for line in lines[1:])


def assert_failed(result, line):
    """Non-zero exit, one line on stderr, no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [f"Error: {line}"]


def login_resp(client, name="ada", password=PASSWORD):
    return client.post("/v1/auth/login", json={"login": name, "password": password})


# --- create ---------------------------------------------------------------------

def test_create_with_password_option(client, runner):
    result = users(runner, "create", "ada", "ada@example.com", "--password", PASSWORD)

    assert result.exit_code == 0, result.output
    assert said(result) == "created user 1 ada\n"
    tokens = assert_ok(login_resp(client))
    data = assert_ok(me(client, tokens["access_token"]))
    assert (data["username"], data["email"], data["is_admin"]) == \
        ("ada", "ada@example.com", False)


def test_create_prompts_hidden_and_confirmed(client, runner):
    result = users(runner, "create", "ada", "ada@example.com",
                   input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden prompt: not echoed
    assert "Repeat for confirmation" in result.output
    assert_ok(login_resp(client))


def test_create_prompt_retries_on_mismatch(client, runner):
    result = users(runner, "create", "ada", "ada@example.com",
                   input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert_ok(login_resp(client))


def test_create_admin_with_display_name(client, runner):
    result = users(runner, "create", "root", "root@example.com", "--password", PASSWORD,
                   "--admin", "--display-name", "The Root")

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("root (admin)")
    data = assert_ok(me(client, assert_ok(login_resp(client, "root"))["access_token"]))
    assert (data["is_admin"], data["display_name"]) == (True, "The Root")


@pytest.mark.parametrize("username,email", [("ADA", "other@example.com"),
                                            ("other", "ADA@example.com")])
def test_create_duplicate_fails_with_one_line(client, runner, username, email):
    register(client, "ada", "ada@example.com")

    result = users(runner, "create", username, email, "--password", PASSWORD)

    field = "username" if username == "ADA" else "email"
    message = {"username": "This username is already taken. (user.username.taken)",
               "email": "This email is already registered. (user.email.taken)"}[field]
    assert_failed(result, message)


@pytest.mark.parametrize("args,field", [(("ab", "ab@example.com"), "username"),
                                        (("ada", "not-an-email"), "email")])
def test_create_invalid_input_fails_with_one_line(runner, args, field):
    result = users(runner, "create", *args, "--password", PASSWORD)

    assert result.exit_code != 0
    assert result.stderr.startswith(f"Error: invalid input: {field}: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_create_short_password_fails(client, runner):
    result = users(runner, "create", "ada", "ada@example.com", "--password", "short")

    assert_failed(result, "invalid input: password: Length must be between 8 and 128.")
    assert_error(login_resp(client, password="short"), 21, "auth.login.unknown_user")


# --- list / show ----------------------------------------------------------------------

def test_list(client, runner):
    users(runner, "create", "root", "root@example.com", "--password", PASSWORD, "--admin")
    register(client, "ada")
    users(runner, "block", "ada")

    result = users(runner, "list")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["1\troot\troot@example.com\tadmin",
                                          "2\tada\tada@example.com\tblocked"]


def test_list_of_no_users_is_empty(runner):
    result = users(runner, "list")
    assert (result.exit_code, result.output) == (0, "")


@pytest.mark.parametrize("key", ["ada", "ADA", "ada@example.com", "1"])
def test_show_by_username_email_or_id(client, runner, key):
    register(client, "ada")
    login(client)
    login(client)

    result = users(runner, "show", key)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "1\tada\tada@example.com\t-"
    assert "display_name: -" in lines
    assert lines[-1] == "active sessions: 2"
    assert PASSWORD not in result.output and "$argon2" not in result.output


def test_show_a_blocked_user_names_the_reason(client, runner):
    register(client, "ada")
    users(runner, "block", "ada", "--reason", "spam")

    result = users(runner, "show", "ada")

    assert "\tblocked" in result.output.splitlines()[0]
    assert any(line.startswith("blocked: ") and line.endswith("reason: spam")
               for line in result.output.splitlines())


@pytest.mark.parametrize("command", [("show",), ("block",), ("unblock",),
                                     ("revoke-sessions",), ("delete", "--yes"),
                                     ("reset-password", "--password", NEW_PASSWORD)])
def test_unknown_user_fails_with_one_line(client, runner, command):
    register(client, "ada")

    result = users(runner, command[0], "ghost", *command[1:])

    assert_failed(result, "No user matches 'ghost'. (user.fetch.not_found)")


@pytest.mark.parametrize("key", ["\u00b2", "9" * 40])
def test_show_with_a_strange_number_fails_with_one_line(runner, key):
    result = users(runner, "show", key)

    assert_failed(result, f"No user matches {key!r}. (user.fetch.not_found)")


# --- block / unblock ------------------------------------------------------------

def test_block_rejects_tokens_and_login(client, runner, ada):
    result = users(runner, "block", "ada", "--reason", "spam")

    assert result.exit_code == 0, result.output
    assert said(result) == "blocked ada; revoked 1 session(s)\n"
    assert_error(me(client, ada.access_token), 99, "auth.account.blocked")
    assert_error(login_resp(client), 99, "auth.account.blocked")


def test_unblock_allows_login_but_old_sessions_stay_revoked(client, runner, ada):
    users(runner, "block", "ada")

    result = users(runner, "unblock", "ada")

    assert result.exit_code == 0, result.output
    assert said(result) == "unblocked ada\n"
    tokens = assert_ok(login_resp(client))
    assert_ok(me(client, tokens["access_token"]))
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")
    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")
    assert "\tblocked" not in users(runner, "show", "ada").output


# --- reset-password / revoke-sessions ------------------------------------------------

def test_reset_password_revokes_sessions(client, runner, ada):
    login(client)

    result = users(runner, "reset-password", "ada", "--password", NEW_PASSWORD)

    assert result.exit_code == 0, result.output
    assert said(result) == "password reset for ada; revoked 2 session(s)\n"
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")
    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")
    assert_ok(login_resp(client, password=NEW_PASSWORD))
    assert_error(login_resp(client), 22, "auth.password.mismatch")


def test_reset_password_by_prompt(client, runner, ada):
    result = users(runner, "reset-password", "ada",
                   input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert_ok(login_resp(client, password=NEW_PASSWORD))


def test_reset_password_too_short_changes_nothing(client, runner, ada):
    result = users(runner, "reset-password", "ada", "--password", "short")

    assert_failed(result, "invalid input: password: Length must be between 8 and 128.")
    assert_ok(me(client, ada.access_token))
    assert_ok(login_resp(client))


def test_revoke_sessions(client, runner, ada, bob):
    second = login(client)

    result = users(runner, "revoke-sessions", "ada")

    assert result.exit_code == 0, result.output
    assert said(result) == "revoked 2 session(s) of ada\n"
    for token in (ada.access_token, second["access_token"]):
        assert_error(me(client, token), 99, "auth.token.revoked")
    assert_ok(me(client, bob.access_token))
    # logging in again still works
    assert_ok(me(client, assert_ok(login_resp(client))["access_token"]))
    assert said(users(runner, "revoke-sessions", "ada")) == "revoked 1 session(s) of ada\n"


# --- delete ---------------------------------------------------------------------

def test_delete_with_yes(client, runner, ada, bob):
    result = users(runner, "delete", "ada", "--yes")

    assert result.exit_code == 0, result.output
    assert said(result) == "deleted ada\n"
    assert_error(me(client, ada.access_token), 99, "auth.account.deleted")
    assert_error(login_resp(client), 21, "auth.login.unknown_user")
    assert_ok(me(client, bob.access_token))
    assert_failed(users(runner, "show", "ada"), "No user matches 'ada'. (user.fetch.not_found)")


def test_delete_asks_and_declining_keeps_the_user(client, runner, ada):
    result = users(runner, "delete", "ada", input="n\n")

    assert result.exit_code != 0
    assert "Aborted" in result.output
    assert_ok(me(client, ada.access_token))


def test_delete_confirmed_at_the_prompt(client, runner, ada):
    result = users(runner, "delete", "ada", input="y\n")

    assert result.exit_code == 0, result.output
    assert_error(login_resp(client), 21, "auth.login.unknown_user")


# --- the database a command acts on -------------------------------------------------

WRITING = [("create", "zed", "zed@example.com", "--password", PASSWORD), ("block", "ada"),
           ("unblock", "ada"), ("reset-password", "ada", "--password", NEW_PASSWORD),
           ("revoke-sessions", "ada"), ("disable-2fa", "ada"), ("rotate-2fa-key",),
           ("delete", "ada", "--yes")]


@pytest.mark.parametrize("command", WRITING, ids=lambda c: c[0])
def test_every_writing_command_names_its_database_first(app, runner, ada, command):
    result = users(runner, *command)

    # on stdout, first, success or not; a failure stays one line on stderr
    assert result.stdout.splitlines()[0] == database_line(app)
    assert len(result.stderr.strip().splitlines()) <= 1


def test_every_command_but_the_readers_is_marked_as_writing(app):
    """A command added later (to any group that touches the database) says
    where it writes, unless it only reads."""
    readers = {("users", "list"), ("users", "show"), ("users", "events")}
    groups = {name: app.cli.commands[name] for name in ("users", "maintenance")
              if name in app.cli.commands}
    assert "users" in groups
    for group_name, group in groups.items():
        for name, command in group.commands.items():
            writes = getattr(command.callback, "writes_database", False)
            assert writes != ((group_name, name) in readers), (group_name, name)


@pytest.mark.parametrize("command", [("list",), ("show", "ada")])
def test_reading_commands_print_only_their_answer(runner, ada, command):
    result = users(runner, *command)

    assert result.exit_code == 0, result.output
    assert not any(line.startswith("database: ") for line in result.output.splitlines())


def test_the_database_line_hides_the_password():
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://gate:s3cret-pw@db.internal/g")
    with app.app_context():
        shown = database_url()

    assert "s3cret-pw" not in shown
    assert shown == "postgresql+psycopg://gate:***@db.internal/g"
    assert make_url(shown).host == "db.internal"


def test_the_database_line_names_the_sqlite_file(tmp_path):
    path = tmp_path / "other.db"
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        db.create_all()

    result = app.test_cli_runner().invoke(args=["users", "revoke-sessions", "ada"])

    assert result.stdout.splitlines() == [f"database: sqlite:///{path}"]
    assert_failed(result, "No user matches 'ada'. (user.fetch.not_found)")


# --- checks before prompts; no success on a no-op -------------------------------------

def test_create_refuses_a_taken_name_before_asking_for_a_password(client, runner):
    register(client, "ada", "ada@example.com")

    result = users(runner, "create", "ADA", "new@example.com", input="")

    assert "Password" not in result.output
    assert_failed(result, "This username is already taken. (user.username.taken)")


def test_create_refuses_an_invalid_email_before_asking_for_a_password(runner):
    result = users(runner, "create", "ada", "not-an-email", input="")

    assert "Password" not in result.output
    assert result.stderr.startswith("Error: invalid input: email: ")


def test_reset_password_of_nobody_fails_before_asking(runner):
    result = users(runner, "reset-password", "ghost", input="")

    assert "Password" not in result.output
    assert_failed(result, "No user matches 'ghost'. (user.fetch.not_found)")


def test_delete_of_nobody_fails_before_asking(runner):
    result = users(runner, "delete", "ghost", input="")

    assert "Delete" not in result.output
    assert_failed(result, "No user matches 'ghost'. (user.fetch.not_found)")


def test_delete_asks_naming_the_account(runner, ada):
    result = users(runner, "delete", "ada", input="n\n")

    assert "Delete ada (ada@example.com) and all their sessions?" in result.output


def test_disable_2fa_without_2fa_fails(client, runner, ada):
    result = users(runner, "disable-2fa", "ada")

    assert_failed(result, "ada has no 2FA enabled; nothing was changed")
    assert_ok(me(client, ada.access_token))  # no session was revoked


def test_unblock_of_an_unblocked_user_fails(runner, ada):
    assert_failed(users(runner, "unblock", "ada"), "ada is not blocked; nothing was changed")


def test_block_of_a_blocked_user_fails_and_keeps_the_reason(runner, ada):
    users(runner, "block", "ada", "--reason", "spam")

    result = users(runner, "block", "ada", "--reason", "other")

    assert_failed(result, "ada is already blocked (reason: spam); nothing was changed")
    assert "reason: spam" in users(runner, "show", "ada").output


def test_revoke_sessions_with_none_says_nothing_to_do(client, runner):
    register(client, "ada")

    result = users(runner, "revoke-sessions", "ada")

    assert result.exit_code == 0, result.output
    assert said(result) == "ada has no active session; nothing to revoke\n"


def test_rotate_2fa_key_with_no_secret_says_nothing_to_do(runner):
    result = users(runner, "rotate-2fa-key")

    assert result.exit_code == 0, result.output
    assert said(result) == "no TOTP secret is stored; nothing to re-encrypt\n"
