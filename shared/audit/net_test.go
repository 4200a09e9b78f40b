package audit

import "net"

type netListener struct{ l net.Listener }

func (n *netListener) listen() (*netListener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	return &netListener{l: l}, err
}
func (n *netListener) Close() error { return n.l.Close() }
func (n *netListener) port() int    { return n.l.Addr().(*net.TCPAddr).Port }
