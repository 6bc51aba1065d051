# One image for the three ECS roles: webserver (default CMD), daemon and run tasks.
# Dependencies come from requirements.lock: the runtime subset of the resolution the tests run
# against (requirements-dev.lock), without test tools, emulators or the speech model.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

# ffmpeg/ffprobe: audio extraction and screenshots from the videos.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 techne \
    && useradd --system --uid 10001 --gid techne --home-dir /app --shell /usr/sbin/nologin techne

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY pyproject.toml README.md ./
COPY techne_assets ./techne_assets
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info

COPY workspace.yaml ./
COPY infra/dagster/dagster.yaml ${DAGSTER_HOME}/dagster.yaml
RUN chown -R techne:techne /app ${DAGSTER_HOME}

USER techne

EXPOSE 3000

# Liveness of the default role, the webserver. ECS does not use Docker HEALTHCHECKs: the
# webserver task definition carries the same check; daemon and run tasks override the command.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/server_info', timeout=4)"]

CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"]
