# http-status-bot: one process serving Telegram, Discord and Slack.
#
#   docker build -t http-status-bot .
#   docker run -d --restart unless-stopped -e BOT_TELEGRAM_ENABLED=true -e TELEGRAM_BOT_TOKEN=... \
#       http-status-bot
#   docker run -d --restart unless-stopped -v "$PWD/config.toml:/config/config.toml:ro" \
#       -e TELEGRAM_BOT_TOKEN=... -p 9090:9090 --stop-timeout 15 http-status-bot
#
# A restart policy matters: `run` exits 1 when a platform cannot be reached at start (a network
# outage), and only the container engine starts it again.
#
# Configuration: the file named by BOT_CONFIG (mount yours over /config/config.toml; the one
# shipped here is config.example.toml, every key at its default) and the environment
# (secrets and BOT_<SECTION>_<KEY> overrides, which win over the file). See README.md.
# The Python CI tests with (the machine's 3.11), pinned by digest: a rebuild gets the same base.
FROM python:3.11.7-slim-bookworm@sha256:d11b9bd5e49ea7401753d78f4d3b56f3aec952b85b49bcae88981f0452818e0b

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Runtime dependencies only (no test extra, no cache), in a layer of their own: it is rebuilt
# when pyproject.toml changes, not on every change to the code. They are read from the
# project's metadata, so there is no second list to keep in step; the chart extra (Pillow, for
# the timeline PNG of log summaries in chats) is part of what the bot does, so it comes too.
COPY pyproject.toml /tmp/deps/
RUN python -c "import tomllib; p = tomllib.load(open('/tmp/deps/pyproject.toml', 'rb'))['project']; print(*p['dependencies'], *p['optional-dependencies']['chart'], sep='\n')" \
        > /tmp/deps/requirements.txt \
    && pip install --no-cache-dir -r /tmp/deps/requirements.txt \
    && rm -rf /tmp/deps

# Then the code, without touching the dependencies installed above.
COPY pyproject.toml README.md /tmp/src/
COPY bot /tmp/src/bot
COPY handlers /tmp/src/handlers
RUN pip install --no-cache-dir --no-deps /tmp/src && rm -rf /tmp/src

# The search index, built once here: every start then loads it packed in about 0.1 s, and the
# container needs no writable cache (python -m handlers.search writes it, readable by all).
ENV HTTP_STATUS_BOT_CACHE=/opt/http-status-bot/cache
RUN python -m handlers.search && chmod -R a+rX /opt/http-status-bot

COPY config.example.toml /config/config.toml

# A fixed numeric uid, so orchestrators can check runAsNonRoot; /data holds the SQLite file.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /data --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001

# The ops server (/healthz, /metrics) is what the HEALTHCHECK and Prometheus reach, so the image
# turns it on, on every interface of the container; -e BOT_OPS_ENABLED=false turns it off.
ENV BOT_CONFIG=/config/config.toml \
    BOT_OPS_ENABLED=true \
    BOT_OPS_LISTEN=0.0.0.0 \
    BOT_OPS_PORT=9090

# 8443: Telegram webhook; 8080: Discord interactions endpoint; 3000: Slack in HTTP mode;
# 9090: /healthz and /metrics.
EXPOSE 8443 8080 3000 9090

# Slim images have no curl: Python's urllib fails (exit 1) on a 503 or no answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BOT_OPS_PORT', '9090') + '/healthz', timeout=4)"]

# SIGTERM (docker stop) lets replies in flight finish within [bot] shutdown_timeout (10 s);
# give docker stop a little more than that: --stop-timeout 15.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
