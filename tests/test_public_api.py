"""The public API is pinned: a change here is a decision, not an accident."""

from __future__ import annotations

import inspect

import trioserve


def test_public_names() -> None:
    assert sorted(trioserve.__all__) == sorted(
        [
            "BindError",
            "Call",
            "ConfigError",
            "RegistrationError",
            "RequestError",
            "Response",
            "Server",
            "SpecError",
            "StartupError",
            "Text",
            "ThreadedServer",
            "WebSocketHandler",
            "render_json",
            "start_in_thread",
        ]
    )
    for name in trioserve.__all__:
        assert getattr(trioserve, name) is not None


def test_server_methods() -> None:
    methods = {
        name
        for name, _ in inspect.getmembers(trioserve.Server, inspect.isfunction)
        if not name.startswith("_")
    }
    assert methods >= {
        "register",
        "unregister",
        "hide",
        "set_item_field",
        "get_item_field",
        "set_icon",
        "set_top_name",
        "create_item",
        "restrict",
        "set_readonly",
        "add_location",
        "remove_location",
        "on_missed_request",
        "process_requests",
        "create_engine",
        "serve",
    }
    assert inspect.iscoroutinefunction(trioserve.Server.serve)
    assert inspect.iscoroutinefunction(trioserve.Server.create_engine)


def test_render_json_signature() -> None:
    params = inspect.signature(trioserve.render_json).parameters
    assert list(params)[:2] == ["obj", "compact"]
    assert params["compact"].default == 0
