# syntax=docker/dockerfile:1
# A small image that runs the bot as a non-root user on a read-only root file system.
# Secrets are never baked in: mount them as files and point BOT_TOKEN_FILE / BOT_MASTER_KEY_FILE
# at them. The database lives on the /data volume (BOT_DATABASE, whatever the config says).
#
# Nothing is built and nothing unpinned is fetched: the locked dependencies come as wheels
# checked against their hashes (--only-binary, so no build backend is ever downloaded), and the
# project is its source folder on the virtual environment's path (a .pth file), as `make
# install` does on a server without containers.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-compile --only-binary :all: --require-hashes -r requirements.lock
COPY bot /opt/bot/bot
RUN /opt/venv/bin/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "exit_intake_bot.pth").write_text("/opt/bot\n")' \
    && /opt/venv/bin/python -m compileall -q /opt/venv /opt/bot

FROM python:3.11.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BOT_CONFIG=/etc/bot/config.toml \
    BOT_DATABASE=/data/bot.sqlite3
# The bot's user is uid 10001: /data, and the secrets mounted into the container, must be
# readable (and /data writable) by it.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /nonexistent --shell /usr/sbin/nologin bot \
    && mkdir -p /data /etc/bot \
    && chown bot:bot /data \
    && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/bot /opt/bot
COPY config.example.toml /etc/bot/config.toml
USER 10001:10001
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
