# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PARLEY_VAR_DIR=/var/lib/parley
WORKDIR /app
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY e2ee ./e2ee
COPY billing ./billing
COPY routing ./routing
COPY archive ./archive
COPY frontend ./frontend
COPY manage.py ./
RUN pip install --no-cache-dir . && mkdir -p /var/lib/parley && useradd --system parley \
    && chown parley /var/lib/parley
USER parley
EXPOSE 8000
# Forwarded headers are judged by Parley itself (PARLEY_TRUSTED_PROXIES), never by uvicorn.
CMD ["uvicorn", "parley.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws", "websockets-sansio", "--no-proxy-headers"]
