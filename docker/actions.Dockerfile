# The action server (rasa-sdk 3.6.2, Python 3.10). It stays thin: it calls the feedback API over
# HTTP, so it needs only rasa-sdk and requests, at the versions pinned in requirements/rasa.lock,
# and the text rules in vietnamese/ (standard library only).
# Build from the repository root: docker build -f docker/actions.Dockerfile .
FROM python:3.10-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/rasa.lock /tmp/rasa.lock
RUN pip install --no-cache-dir -c /tmp/rasa.lock rasa-sdk requests \
    && python -c "import rasa_sdk, requests" \
    && useradd --uid 1001 --create-home caunoi \
    && mkdir -p /var/lib/caunoi-actions \
    && chown caunoi /var/lib/caunoi-actions

WORKDIR /app
COPY actions/ actions/
COPY vietnamese/ vietnamese/
USER caunoi
EXPOSE 5055
HEALTHCHECK --interval=10s --timeout=5s --retries=12 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=4)"]
# rasa-sdk's server with the outbox started (actions/__main__.py)
CMD ["python", "-m", "actions", "--port", "5055"]
