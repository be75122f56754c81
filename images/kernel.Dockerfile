# The code-interpreter kernel image. Built by `assistd images build` from a debootstrapped Debian base
# and wheels downloaded on the host (containers cannot reach a package index).
ARG BASE
FROM ${BASE} AS build
COPY wheels /wheels
COPY requirements.txt /requirements.txt
RUN python3 -m venv /opt/kernel \
 && /opt/kernel/bin/pip install --no-index --find-links /wheels --no-compile -q -r /requirements.txt \
 && /opt/kernel/bin/python -m compileall -q /opt/kernel/lib \
 && /opt/kernel/bin/python -c "import matplotlib; import matplotlib.pyplot"

FROM ${BASE}
COPY --from=build /opt/kernel /opt/kernel
# No setuid or setgid programs: nothing in the image can raise the privileges of the code it runs.
RUN useradd --uid 1000 --create-home --home-dir /home/sandbox sandbox \
 && mkdir -p /mnt/data /conn && chown 1000:1000 /mnt/data /conn \
 && find / -xdev -type f -perm /6000 -exec chmod ug-s {} +
ENV PATH=/opt/kernel/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/home/sandbox \
    MPLBACKEND=module://matplotlib_inline.backend_inline \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONDONTWRITEBYTECODE=1
USER 1000:1000
WORKDIR /mnt/data
