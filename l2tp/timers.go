package l2tp

import "time"

var farFuture = time.Unix(1<<62, 0)

// tunnelHeap orders tunnels by their next deadline.
type tunnelHeap []*tunnelEntry

func (h tunnelHeap) Len() int           { return len(h) }
func (h tunnelHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h tunnelHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *tunnelHeap) Push(x any) {
	te := x.(*tunnelEntry)
	te.hidx = len(*h)
	*h = append(*h, te)
}
func (h *tunnelHeap) Pop() any {
	old := *h
	te := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	te.hidx = -1
	return te
}
