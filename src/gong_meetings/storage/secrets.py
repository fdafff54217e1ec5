"""Secrets the server makes for itself, shared by every instance through the database."""

import secrets

from sqlalchemy import Connection, select

from gong_meetings.storage.tables import insert_or_skip, server_secrets

SECRET_BYTES = 32


def server_secret(connection: Connection, name: str) -> bytes:
    """The secret called `name`, made on first use; every instance then reads the same one."""
    connection.execute(
        insert_or_skip(connection, server_secrets, ["name"]).values(
            name=name, value=secrets.token_bytes(SECRET_BYTES)
        )
    )
    value = connection.execute(
        select(server_secrets.c.value).where(server_secrets.c.name == name)
    ).scalar_one()
    return bytes(value)
