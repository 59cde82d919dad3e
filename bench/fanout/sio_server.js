// socket.io peer for the fan-out benchmark: every connection joins one room and each
// "pub" event is re-emitted to that room (sender excluded), as socket.io's docs show.
const { Server } = require('socket.io');
const port = +(process.env.PORT || 3001);
const io = new Server(port, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.engine.on('connection', (raw) => { raw.request = null; }); // the documented memory saving
io.on('connection', (s) => { s.join('room1'); s.on('pub', (m) => s.to('room1').emit('msg', m)); });
