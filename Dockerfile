# The Softmax Playground app, for compose.yaml: the replicas, the Ray head and workers, and the
# one-shot "prepare" all run this image. PyTorch comes as its CPU-only wheels (no CUDA: an image
# of ~1 GB instead of ~5 GB); torch's version is the one requirements.txt pins, so the next step
# keeps it. These are the install steps the tests and CI run: requirements.txt, then
# requirements-cluster.txt (Ray and the PostgreSQL driver).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SOFTMAX_PLAYGROUND_DATA=/data \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    RAY_USAGE_STATS_ENABLED=0

WORKDIR /app
COPY requirements.txt requirements-cluster.txt ./
RUN pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu \
    && pip install -r requirements.txt -r requirements-cluster.txt

COPY . .
RUN useradd --create-home --uid 1000 playground \
    && mkdir -p /data && chown playground:playground /data
USER playground

EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"
CMD ["python", "-m", "playground.serve", "--server.address", "0.0.0.0", "--server.port", "8501"]
