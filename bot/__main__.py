"""``python -m bot [run|demo|migrate|keys]`` — the composition root of the process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="medcab — Кабинет врача, a Telegram bot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (default): long polling, or a webhook when MEDCAB_PUBLIC_URL is set")
    demo = sub.add_parser("demo", help="everything local: SQLite, emulators, a chat page in the browser")
    demo.add_argument("--port", type=int, default=8081, help="port of the chat page / Telegram emulator")
    demo.add_argument("--data-dir", default=".demo", help="folder for the demo database and keys")
    demo.add_argument("--no-browser", action="store_true", help="only print the chat page address")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("keys", help="print fresh encryption keys for the environment")
    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain: exit 1 if any row was edited, deleted or inserted")
    documents = sub.add_parser("documents", help="prescriptions, referrals and medical documents")
    documents_sub = documents.add_subparsers(dest="documents_command", required=True)
    verify = documents_sub.add_parser("verify", help="check a signed document: exit 1 if its bytes changed after signing")
    verify.add_argument("id", type=int, help="the document's number")
    return parser


async def _run(settings: Settings) -> None:
    from bot.keys import build_crypto
    from storage.migrate import ensure_schema

    # Settings and the database are checked before aiogram is even imported (seconds on a
    # small machine), so a mistake is reported at once.
    token = settings.require_token()
    crypto = build_crypto(settings)
    await ensure_schema(settings.database_url)

    from bot.runner import run_polling, run_webhook
    from bot.runtime import build_runtime
    async with build_runtime(settings, token, crypto) as runtime:
        if settings.webhook_mode:
            logger.info("starting in webhook mode")
            await run_webhook(runtime)
        else:
            logger.info("starting in polling mode")
            await run_polling(runtime)


async def _audit_verify(settings: Settings) -> int:
    from storage.db import check_connection, create_engine, make_session_maker
    from storage.repositories.audit import AuditRepository

    engine = create_engine(settings.database_url)
    try:
        await check_connection(engine)
        async with make_session_maker(engine)() as session:
            result = await AuditRepository(session).verify()
    finally:
        await engine.dispose()
    if result.ok:
        print(f"audit log intact: {result.checked} events, chain verified")
        return 0
    print(f"audit log BROKEN at event {result.first_broken_id}: {result.reason} ({result.checked} events checked)")
    return 1


async def _documents_verify(settings: Settings, document_id: int) -> int:
    from bot.keys import build_crypto
    from services.medical_documents import verify_document
    from services.uow import UnitOfWork
    from storage.db import check_connection, create_engine, make_session_maker

    crypto = build_crypto(settings)
    engine = create_engine(settings.database_url)
    try:
        await check_connection(engine)
        async with UnitOfWork(make_session_maker(engine)) as uow:
            result = await verify_document(uow, crypto.cipher, document_id)
    finally:
        await engine.dispose()
    if result is None:
        print(f"document {document_id} not found")
        return 2
    if result.ok:
        print(f"document {document_id}: signature valid, content unchanged since signing")
        return 0
    print(f"document {document_id}: NOT VALID ({result.reason})")
    return 1


async def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    await upgrade(settings.database_url)
    print("database schema is up to date")


def _keys() -> None:
    from storage.crypto import generate_key_b64

    print(f"MEDCAB_SECURITY__DATA_KEYS=k1:{generate_key_b64()}")
    print("MEDCAB_SECURITY__ACTIVE_KEY_ID=k1")
    print(f"MEDCAB_SECURITY__INDEX_KEY={generate_key_b64()}")


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "keys":
        _keys()
        return 0
    from storage.db import DatabaseUnavailable
    from storage.migrate import SchemaOutdated

    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if command == "demo":
            from bot.demo import run_demo

            asyncio.run(
                run_demo(
                    settings, port=args.port, data_dir=args.data_dir, open_browser=not args.no_browser, started=started
                )
            )
        elif command == "migrate":
            asyncio.run(_migrate(settings))
        elif command == "audit":
            return asyncio.run(_audit_verify(settings))
        elif command == "documents":
            return asyncio.run(_documents_verify(settings, args.id))
        else:
            asyncio.run(_run(settings))
    except SettingsError as exc:
        print(f"medcab: {exc}", file=sys.stderr)
        return 2
    except SchemaOutdated as exc:
        print(f"medcab: {exc}", file=sys.stderr)
        return 1
    except DatabaseUnavailable as exc:
        print(f"medcab: database unavailable: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
