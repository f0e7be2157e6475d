# medcab in production: migrations, then the bot (polling, or webhook when MEDCAB_PUBLIC_URL is set).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# DejaVu Sans: the Cyrillic font embedded in the PDFs (services/pdf.py).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY storage ./storage
COPY emulators ./emulators
COPY locales ./locales
RUN pip install . \
    && python -c "from pathlib import Path; from bot.i18n import compile_catalogs; compile_catalogs(Path('locales'))" \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin medcab \
    && mkdir -p /data && chown medcab /data

USER medcab
ENV MEDCAB_DATABASE_URL=sqlite+aiosqlite:////data/medcab.db \
    MEDCAB_WEB_HOST=0.0.0.0 \
    MEDCAB_LOCALES_DIR=/app/locales
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
CMD ["sh", "-c", "python -m bot migrate && exec python -m bot"]
