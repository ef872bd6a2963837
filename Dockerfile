# Production image: gunicorn serving otp-service. Redis is not inside: set REDIS_URL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OTP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin otp

COPY pyproject.toml README.md openapi.yaml ./
COPY otp_service ./otp_service
RUN pip install . && rm -rf /root/.cache

USER otp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"

# SIGTERM lets in-flight requests finish (graceful_timeout in gunicorn_conf.py).
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "python:otp_service.gunicorn_conf", "otp_service:create_app()"]
