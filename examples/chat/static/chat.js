// The page side of the chat, as Tornado's demos/websocket/static/chat.js,
// without jQuery: the form's fields go to /chatsocket as JSON, and every
// message that comes back is appended to #inbox once.

"use strict";

document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("messageform");
    form.addEventListener("submit", function (event) {
        event.preventDefault();
        newMessage(form);
    });
    document.getElementById("message").select();
    updater.start();
});

// newMessage sends the form's fields ({"body": ..., "_xsrf": ...}) and
// clears the input.
function newMessage(form) {
    var message = formToDict(form);
    updater.socket.send(JSON.stringify(message));
    var input = form.querySelector("input[type=text]");
    input.value = "";
    input.select();
}

function formToDict(form) {
    var json = {};
    new FormData(form).forEach(function (value, name) {
        json[name] = value;
    });
    delete json.next;
    return json;
}

var updater = {
    socket: null,

    start: function () {
        // Same scheme family as the page: wss: under https, where a ws:
        // URL would be blocked as mixed content (Tornado's demo always
        // uses ws:).
        var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chatsocket";
        updater.socket = new WebSocket(url);
        updater.socket.onmessage = function (event) {
            updater.showMessage(JSON.parse(event.data));
        };
    },

    showMessage: function (message) {
        if (document.getElementById("m" + message.id)) return;
        var template = document.createElement("template");
        template.innerHTML = message.html.trim();
        var node = template.content.firstElementChild;
        node.classList.add("new");
        document.getElementById("inbox").appendChild(node);
    }
};
