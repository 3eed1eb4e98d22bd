# syntax=docker/dockerfile:1
# A small image that runs the bot as a non-root user on a read-only root file system.
# Secrets are never baked in: mount them as files and point BOT_TOKEN_FILE / BOT_MASTER_KEY_FILE
# at them. The database lives on the /data volume.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md config.example.toml requirements.lock ./
COPY bot ./bot
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile --require-hashes -r requirements.lock \
    && /opt/venv/bin/pip install --no-compile --no-deps . \
    && /opt/venv/bin/python -m compileall -q /opt/venv \
    && sed 's#^database = .*#database = "/data/bot.sqlite3"#' config.example.toml > /src/config.toml

FROM python:3.11.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BOT_CONFIG=/etc/bot/config.toml
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /nonexistent --shell /usr/sbin/nologin bot \
    && mkdir -p /data /etc/bot \
    && chown bot:bot /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/config.toml /etc/bot/config.toml
USER 10001:10001
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
