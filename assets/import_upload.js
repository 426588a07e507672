// The import page's file: taken from the drop zone (chosen or dropped) before dcc.Upload reads it, sent to
// the upload route as it is read (a progress bar shows how much has gone), and its SHA-256 and name handed
// to the page's callbacks through the import-file store. The server's refusal (too large, another type)
// is shown as it says it.
(function () {
    function zone(target) {
        return target && target.closest ? target.closest('#import-upload') : null;
    }

    function send(file, holder) {
        var bar = document.getElementById('import-sending');
        var status = document.getElementById('import-send-status');
        var say = function (text, failed) {
            status.textContent = text;
            status.className = 'small mb-2' + (failed ? ' text-danger' : '');
        };
        bar.hidden = false;
        bar.value = 0;
        say('Sending ' + file.name + '...', false);
        var request = new XMLHttpRequest();
        request.open('POST', holder.dataset.url + '?name=' + encodeURIComponent(file.name));
        request.setRequestHeader('Content-Type', 'application/octet-stream');
        request.upload.onprogress = function (progress) {
            if (progress.lengthComputable) {
                var percent = Math.round(100 * progress.loaded / progress.total);
                bar.value = percent;
                say('Sending ' + file.name + ': ' + percent + ' %', false);
            }
        };
        request.onload = function () {
            var answer = {};
            try { answer = JSON.parse(request.responseText); } catch (e) { answer = {}; }
            bar.hidden = true;
            if (request.status === 200 && answer.sha256) {
                say('', false);
                window.dash_clientside.set_props('import-file', {data: {sha256: answer.sha256, name: answer.name}});
            } else {
                say(answer.error || ('The file was not received (HTTP ' + request.status + '); choose it again.'), true);
            }
        };
        request.onerror = function () {
            bar.hidden = true;
            say('The file was not received (the connection failed); choose it again.', true);
        };
        request.send(file);
    }

    // Capture phase, on the document: before React's own handlers, which would read the whole file into
    // the page and post it inside a callback.
    document.addEventListener('change', function (event) {
        var holder = zone(event.target) && event.target.closest('label[data-url]');
        if (!holder || !event.target.files || !event.target.files.length) {
            return;
        }
        event.stopImmediatePropagation();
        send(event.target.files[0], holder);
        event.target.value = '';  // the same file chosen again is sent again
    }, true);
    document.addEventListener('drop', function (event) {
        var holder = zone(event.target) && event.target.closest('label[data-url]');
        if (!holder || !event.dataTransfer || !event.dataTransfer.files.length) {
            return;
        }
        event.preventDefault();
        event.stopImmediatePropagation();
        send(event.dataTransfer.files[0], holder);
    }, true);
}());
